import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Samples, from /proc, the supervised worker's process tree (the root pid and all its
/// descendants, found through the parent pid in every /proc/<pid>/stat) and the whole machine.
/// Rates (CPU percent) are over the time since the previous `sample`; call it every few seconds.
///
/// One sample reads each process's stat file once, plus a few system files: about a millisecond
/// for a few hundred processes, so a 5 s period costs well under 0.1 % of a CPU.
public final class ResourceSampler: Sendable {
    private struct ProcessKey: Hashable {
        var pid: Int32
        var startTicks: UInt64
    }

    /// What the CPU rate needs of one process of the tree.
    private struct TreeEntry {
        var cpuTicks: UInt64
        var parentPID: Int32
    }

    private struct State {
        var buffer: [UInt8] = []
        var previousSystemCPU: (busy: UInt64, total: UInt64, nanoseconds: UInt64)?
        /// CPU ticks of each process of the tree at the previous sample, and when it was taken.
        var previousTree: [ProcessKey: TreeEntry] = [:]
        var previousTreeNanoseconds: UInt64?
    }

    private let files: ProcFiles
    private let pageSize: UInt64
    private let ticksPerSecond: UInt64
    private let state = Mutex(State())

    /// /proc counts CPU time in ticks of 10 ms: over a shorter interval one tick would read as
    /// more than 10 %, so a sample sooner than this after the last one reports no CPU and keeps
    /// the older reading as the baseline.
    static let minimumCPUIntervalNanoseconds: UInt64 = 100_000_000

    /// Takes a first reading of the system CPU counters, so the first `sample` already has a rate.
    public convenience init() {
        self.init(procRoot: "/proc")
    }

    init(procRoot: String) {
        files = ProcFiles(root: procRoot)
        pageSize = UInt64(max(sysconf(Int32(_SC_PAGESIZE)), 1))
        ticksPerSecond = UInt64(max(sysconf(Int32(_SC_CLK_TCK)), 1))
        state.withLock { state in
            if let stat = files.contents(of: "stat", into: &state.buffer), let cpu = ProcParser.systemCPU(stat) {
                state.previousSystemCPU = (cpu.busy, cpu.total, Self.bootClockNanoseconds())
            }
        }
    }

    /// Reads the tree rooted at `rootPID` (nil: no supervised worker, tree fields stay nil) and the
    /// system counters. A root that no longer exists gives an empty tree with 0 bytes resident.
    public func sample(treeRootedAt rootPID: Int32?) -> ResourceSample {
        state.withLock { state in
            var sample = ResourceSample()
            if let rootPID { sampleTree(rootedAt: rootPID, into: &sample, state: &state) }
            let now = Self.bootClockNanoseconds()
            if let stat = files.contents(of: "stat", into: &state.buffer), let cpu = ProcParser.systemCPU(stat) {
                let previous = state.previousSystemCPU
                let due = previous.map { now >= $0.nanoseconds + Self.minimumCPUIntervalNanoseconds } ?? true
                if let previous, due, cpu.total > previous.total, cpu.busy >= previous.busy {
                    let busy = Double(cpu.busy - previous.busy)
                    sample.systemCPUPercent = busy / Double(cpu.total - previous.total) * 100
                }
                if due { state.previousSystemCPU = (cpu.busy, cpu.total, now) }
            }
            if let meminfo = files.contents(of: "meminfo", into: &state.buffer) {
                sample.systemMemoryUsedBytes = ProcParser.memoryUsed(meminfo)
            }
            if let diskstats = files.contents(of: "diskstats", into: &state.buffer) {
                sample.systemIOOperationsTotal = ProcParser.diskOperations(diskstats)
            }
            return sample
        }
    }

    private func sampleTree(rootedAt rootPID: Int32, into sample: inout ResourceSample, state: inout State) {
        let now = Self.bootClockNanoseconds()
        var stats: [Int32: ProcParser.ProcessStat] = [:]
        var children: [Int32: [Int32]] = [:]
        for pid in files.processIDs() {
            guard let bytes = files.contents(of: "\(pid)/stat", into: &state.buffer),
                let stat = ProcParser.processStat(bytes)
            else { continue }
            stats[pid] = stat
            children[stat.parentPID, default: []].append(pid)
        }

        var tree: [ProcessKey: TreeEntry] = [:]
        var rssPages: UInt64 = 0
        var ioOperations: UInt64?
        var pending = stats[rootPID] == nil ? [] : [rootPID]
        while let pid = pending.popLast() {
            guard let stat = stats[pid] else { continue }
            tree[ProcessKey(pid: pid, startTicks: stat.startTicks)] = TreeEntry(
                cpuTicks: stat.cpuTicks,
                parentPID: stat.parentPID
            )
            rssPages += stat.rssPages
            // Readable for our own processes, or as root; a hidden one leaves the sum partial.
            if let bytes = files.contents(of: "\(pid)/io", into: &state.buffer),
                let operations = ProcParser.ioOperations(bytes)
            {
                ioOperations = (ioOperations ?? 0) + operations
            }
            pending += children[pid] ?? []
        }

        sample.processCount = tree.count
        sample.treeRSSBytes = rssPages * pageSize
        sample.treeIOOperations = ioOperations
        if let previousNanoseconds = state.previousTreeNanoseconds,
            now < previousNanoseconds + Self.minimumCPUIntervalNanoseconds
        {
            return  // Too soon for a CPU rate: keep the older baseline.
        }
        if let previousNanoseconds = state.previousTreeNanoseconds {
            let ticks = Self.ticksUsed(
                now: tree,
                before: state.previousTree,
                previousBootTicks: previousNanoseconds * ticksPerSecond / 1_000_000_000
            )
            let seconds = Double(now - previousNanoseconds) / 1e9
            sample.treeCPUPercent = tree.isEmpty ? nil : Double(ticks) / Double(ticksPerSecond) / seconds * 100
        }
        state.previousTree = tree
        state.previousTreeNanoseconds = now
    }

    /// CPU ticks the tree used between two samples. Each process's ticks include its reaped
    /// children's (cutime/cstime), so a short-lived child is counted once its parent waits for it.
    /// A process that vanished while its parent stayed in the tree was reaped by that parent: its
    /// ticks, counted before, are now in the parent's cutime too, so they are taken off once. (When
    /// the parent vanished too, nobody in the tree reaped it and nothing is counted twice.) A process
    /// first seen now counts whole only if it started after the previous sample; otherwise (a new
    /// root, a process adopted into the tree) it only sets a baseline.
    private static func ticksUsed(
        now: [ProcessKey: TreeEntry],
        before: [ProcessKey: TreeEntry],
        previousBootTicks: UInt64
    ) -> UInt64 {
        var used: Int64 = 0
        for (key, entry) in now {
            if let previous = before[key] {
                used += Int64(entry.cpuTicks) - Int64(min(previous.cpuTicks, entry.cpuTicks))
            } else if key.startTicks >= previousBootTicks {
                used += Int64(entry.cpuTicks)
            }
        }
        let livePIDs = Set(now.keys.map(\.pid))
        for (key, entry) in before where now[key] == nil && livePIDs.contains(entry.parentPID) {
            used -= Int64(entry.cpuTicks)
        }
        return UInt64(max(used, 0))
    }

    /// Time since boot, the clock that /proc/<pid>/stat's start time counts in.
    private static func bootClockNanoseconds() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_BOOTTIME, &spec)
        return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
    }
}
