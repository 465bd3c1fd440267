import Foundation
import PipeBusCore
import PipeBusTestSupport
import PipeBusTasks
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A sidecar costs the same with many finished tasks as with none: its heartbeats and `status`
/// count the folders from the watcher's events, never by listing them. Each figure is compared
/// with a baseline measured in the same test, on an empty spool, with a generous bound.
@Suite("Sidecar integration: the spool at scale", .serialized)
struct SpoolScaleTests {
    /// Finished tasks in the large spool; `PIPEBUS_IT_SPOOL_SIZE` measures another size (figures
    /// are printed either way).
    static let largeSpool = ProcessInfo.processInfo.environment["PIPEBUS_IT_SPOOL_SIZE"].flatMap(Int.init) ?? 40_000

    /// CPU time of every thread of `pid`, in nanoseconds (/proc/PID/task/*/schedstat, field 1):
    /// finer than the clock ticks of /proc/PID/stat.
    /// The process's CPU time, all its threads, those that already ended included (a sum over
    /// /proc/PID/task would lose an ended thread's time and could go backwards).
    static func cpuNanoseconds(_ pid: pid_t) -> UInt64 {
        var clock = clockid_t()
        var time = timespec()
        guard clock_getcpuclockid(pid, &clock) == 0, clock_gettime(clock, &time) == 0 else { return 0 }
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }

    static func residentKiB(_ pid: pid_t) -> Int {
        let text = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let line = text.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
    }

    /// Writes `count` finished task files into `completed/` plainly, before any sidecar runs.
    static func fillCompleted(_ root: Integration.Root, count: Int) throws {
        let folder = root.folder("completed")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        for index in 0..<count {
            let id = "done-\(index)"
            let bytes = Array(#"{"id":"\#(id)","correlation_id":"c-\#(index)","attempts":1,"result":{"ok":true}}"#.utf8)
            let fd = open("\(folder)/\(id).json", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw Integration.Failure("create \(id): errno \(errno)") }
            defer { close(fd) }
            guard write(fd, bytes, bytes.count) == bytes.count else { throw Integration.Failure("write \(id): errno \(errno)") }
        }
    }

    /// One sidecar's cost per heartbeat and per `status` call on `root`.
    struct Cost {
        var heartbeatNanoseconds: Double
        var statusNanoseconds: Double
        var residentKiB: Int
        var completed: UInt32
        /// `tasks --limit 10`: a newest-first ListStream of 10.
        var listNanoseconds: Double
        var listed: [String]
    }

    /// The ids of a newest-first streamed listing of at most `limit` tasks.
    static func newest(_ client: Integration.Client, limit: UInt32) async throws -> [String] {
        try await client.connection.withServerStreaming(
            Pipebus_Tasks_V1_Tasks.Method.ListStream.descriptor,
            request: Pipebus_Tasks_V1_ListStreamRequest(limit: limit),
            timeout: .seconds(60),
            responseType: Pipebus_Tasks_V1_TaskList.self
        ) { pages in
            var ids: [String] = []
            for try await page in pages { ids += page.tasks.map(\.id) }
            return ids
        }
    }

    static func measure(_ root: Integration.Root, beats: Int = 40, statusCalls: Int = 200) async throws -> Cost {
        let sidecar = try await Integration.SidecarProcess(root: root, heartbeatInterval: 0.05, metrics: true)
        do {
            let client = try await Integration.Client.connect(root, timeout: .seconds(10))
            defer { client.close() }
            let status = try await client.status()
            // Settled: start-up's one listing is over and a few beats went by.
            func seq() -> Int { root.heartbeat(instance: "it")?["seq"] as? Int ?? 0 }
            let settled = seq() + 5
            try await eventually("5 heartbeats", timeout: .seconds(60)) { seq() >= settled }

            let firstSeq = seq()
            let cpu0 = cpuNanoseconds(sidecar.pid)
            try await eventually("\(beats) heartbeats", timeout: .seconds(120)) { seq() >= firstSeq + beats }
            let cpu1 = cpuNanoseconds(sidecar.pid)
            let heartbeat = (Double(cpu1) - Double(cpu0)) / Double(seq() - firstSeq)

            let cpu2 = cpuNanoseconds(sidecar.pid)
            let beat2 = seq()
            for _ in 0..<statusCalls { _ = try await client.status() }
            let cpu3 = cpuNanoseconds(sidecar.pid)
            // The heartbeats that fell inside the calls are taken out at their measured cost.
            let statusCPU = max(0, (Double(cpu3) - Double(cpu2)) - Double(seq() - beat2) * heartbeat) / Double(statusCalls)
            let listings = 50
            var listed: [String] = []
            let cpu4 = cpuNanoseconds(sidecar.pid)
            let beat4 = seq()
            for _ in 0..<listings { listed = try await newest(client, limit: 10) }
            let cpu5 = cpuNanoseconds(sidecar.pid)
            let listCPU = max(0, (Double(cpu5) - Double(cpu4)) - Double(seq() - beat4) * heartbeat) / Double(listings)
            let cost = Cost(
                heartbeatNanoseconds: heartbeat,
                statusNanoseconds: statusCPU,
                residentKiB: residentKiB(sidecar.pid),
                completed: status.completed,
                listNanoseconds: listCPU,
                listed: listed
            )
            await sidecar.killEverything()
            return cost
        } catch {
            Issue.record("sidecar log tail:\n\(sidecar.logTail(40))")
            await sidecar.killEverything()
            throw error
        }
    }

    @Test("heartbeat, status and `tasks --limit 10` CPU and the RSS do not grow with the finished tasks in the spool (empty spool vs 40,000 completed)")
    func heartbeatCostIsFlat() async throws {
        let empty = try Integration.Root.make(worker: "marie")
        defer { empty.remove() }
        let small = try await Self.measure(empty)

        let full = try Integration.Root.make(worker: "marie")
        defer { full.remove() }
        try Self.fillCompleted(full, count: Self.largeSpool)
        let large = try await Self.measure(full)

        func ms(_ nanoseconds: Double) -> String { String(format: "%.3f ms", nanoseconds / 1e6) }
        print(
            "MEASURE spool at scale (\(Integration.executable)): CPU per heartbeat \(ms(small.heartbeatNanoseconds)) empty,",
            "\(ms(large.heartbeatNanoseconds)) with \(large.completed) completed; CPU per status call \(ms(small.statusNanoseconds))",
            "vs \(ms(large.statusNanoseconds)); CPU per `tasks --limit 10` \(ms(small.listNanoseconds)) vs \(ms(large.listNanoseconds));",
            "VmRSS \(small.residentKiB) KiB vs \(large.residentKiB) KiB"
        )
        // The newest ten, as a listing of the folders would give them (files written in order).
        #expect(large.listed == (0..<10).map { "done-\(Self.largeSpool - 1 - $0)" }, "newest first: \(large.listed)")
        // Generous: listing the folders' 40,000 names and sorting them costs tens of ms.
        #expect(
            large.listNanoseconds <= 2 * max(small.listNanoseconds, 1e5) + 5e6,
            "`tasks --limit 10` CPU \(ms(large.listNanoseconds)) with \(Self.largeSpool) finished tasks, \(ms(small.listNanoseconds)) with none"
        )
        #expect(small.completed == 0)
        #expect(large.completed == UInt32(Self.largeSpool), "the status counts every finished task")
        // Generous: twice the baseline plus a millisecond. Listing 40,000 names costs ~20 ms.
        #expect(
            large.heartbeatNanoseconds <= 2 * small.heartbeatNanoseconds + 1e6,
            "heartbeat CPU \(ms(large.heartbeatNanoseconds)) with \(Self.largeSpool) finished tasks, \(ms(small.heartbeatNanoseconds)) with none"
        )
        // 128 bytes of RSS per finished task over the empty spool's. The watcher's census kept
        // each name as a String in a Set (~190 B a task, 185 MiB at 10⁶); its fingerprints take
        // 8 B a task, and the start-up listing's garbage is handed back. Retention's arrival queue
        // (the finished tasks by age, with their names, to archive the oldest) adds ~40-60 B a
        // task: measured 106 B a task in all with both (4,164 KiB at 40,000). Still O(spool): see
        // bench/README's spool section for what would remove it.
        #expect(
            large.residentKiB - small.residentKiB <= Self.largeSpool * 128 / 1024,
            "VmRSS \(large.residentKiB) KiB with \(Self.largeSpool) finished tasks, \(small.residentKiB) KiB with none"
        )
        #expect(
            large.statusNanoseconds <= 2 * small.statusNanoseconds + 1e6,
            "status CPU \(ms(large.statusNanoseconds)) with \(Self.largeSpool) finished tasks, \(ms(small.statusNanoseconds)) with none"
        )
    }
}
