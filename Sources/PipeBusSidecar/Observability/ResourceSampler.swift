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

    private struct State {
        var buffer: [UInt8] = []
        var previousSystemCPU: (busy: UInt64, total: UInt64)?
        /// CPU ticks of each process of the tree at the previous sample, and when it was taken.
        var previousTree: [ProcessKey: UInt64] = [:]
        var previousTreeNanoseconds: UInt64?
    }

    private let files: ProcFiles
    private let pageSize: UInt64
    private let ticksPerSecond: UInt64
    private let state = Mutex(State())

    /// Takes a first reading of the system CPU counters, so the first `sample` already has a rate.
    public convenience init() {
        self.init(procRoot: "/proc")
    }

    init(procRoot: String) {
        files = ProcFiles(root: procRoot)
        pageSize = UInt64(max(sysconf(Int32(_SC_PAGESIZE)), 1))
        ticksPerSecond = UInt64(max(sysconf(Int32(_SC_CLK_TCK)), 1))
        state.withLock { state in
            if files.contents(of: "stat", into: &state.buffer) {
                state.previousSystemCPU = ProcParser.systemCPU(state.buffer)
            }
        }
    }

    /// Reads the tree rooted at `rootPID` (nil: no supervised worker, tree fields stay nil) and the
    /// system counters. A root that no longer exists gives an empty tree with 0 bytes resident.
    public func sample(treeRootedAt rootPID: Int32?) -> ResourceSample {
        state.withLock { state in
            var sample = ResourceSample()
            if let rootPID { sampleTree(rootedAt: rootPID, into: &sample, state: &state) }
            if files.contents(of: "stat", into: &state.buffer), let cpu = ProcParser.systemCPU(state.buffer) {
                if let previous = state.previousSystemCPU, cpu.total > previous.total, cpu.busy >= previous.busy {
                    let busy = Double(cpu.busy - previous.busy)
                    sample.systemCPUPercent = busy / Double(cpu.total - previous.total) * 100
                }
                state.previousSystemCPU = cpu
            }
            if files.contents(of: "meminfo", into: &state.buffer) {
                sample.systemMemoryUsedBytes = ProcParser.memoryUsed(state.buffer)
            }
            if files.contents(of: "diskstats", into: &state.buffer) {
                sample.systemIOOperationsTotal = ProcParser.diskOperations(state.buffer)
            }
            return sample
        }
    }

    private func sampleTree(rootedAt rootPID: Int32, into sample: inout ResourceSample, state: inout State) {
        let now = Self.bootClockNanoseconds()
        var stats: [Int32: ProcParser.ProcessStat] = [:]
        var children: [Int32: [Int32]] = [:]
        for pid in files.processIDs() {
            guard files.contents(of: "\(pid)/stat", into: &state.buffer),
                let stat = ProcParser.processStat(state.buffer)
            else { continue }
            stats[pid] = stat
            children[stat.parentPID, default: []].append(pid)
        }

        var tree: [ProcessKey: UInt64] = [:]
        var rssPages: UInt64 = 0
        var ioOperations: UInt64?
        var pending = stats[rootPID] == nil ? [] : [rootPID]
        while let pid = pending.popLast() {
            guard let stat = stats[pid] else { continue }
            tree[ProcessKey(pid: pid, startTicks: stat.startTicks)] = stat.cpuTicks
            rssPages += stat.rssPages
            // Readable for our own processes, or as root; a hidden one leaves the sum partial.
            if files.contents(of: "\(pid)/io", into: &state.buffer),
                let operations = ProcParser.ioOperations(state.buffer)
            {
                ioOperations = (ioOperations ?? 0) + operations
            }
            pending += children[pid] ?? []
        }

        sample.processCount = tree.count
        sample.treeRSSBytes = rssPages * pageSize
        sample.treeIOOperations = ioOperations
        if let previousNanoseconds = state.previousTreeNanoseconds, now > previousNanoseconds {
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
    /// children's (cutime/cstime), so a short-lived child is counted once its parent waits for it;
    /// a process that vanished had its ticks counted before and again in its parent's cutime, so
    /// they are taken off once. A process first seen now counts whole only if it started after the
    /// previous sample; otherwise (a new root, a process adopted into the tree) it sets a baseline.
    private static func ticksUsed(
        now: [ProcessKey: UInt64],
        before: [ProcessKey: UInt64],
        previousBootTicks: UInt64
    ) -> UInt64 {
        var used: Int64 = 0
        for (key, ticks) in now {
            if let previous = before[key] {
                used += Int64(ticks) - Int64(min(previous, ticks))
            } else if key.startTicks >= previousBootTicks {
                used += Int64(ticks)
            }
        }
        for (key, ticks) in before where now[key] == nil { used -= Int64(ticks) }
        return UInt64(max(used, 0))
    }

    /// Time since boot, the clock that /proc/<pid>/stat's start time counts in.
    private static func bootClockNanoseconds() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_BOOTTIME, &spec)
        return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
    }
}
