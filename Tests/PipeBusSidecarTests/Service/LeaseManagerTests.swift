import Foundation
import PipeBusCore
import PipeBusTasks
import PipeBusTestSupport
import Testing

@testable import PipeBusSidecar

@Suite("LeaseManager", .timeLimit(.minutes(1)))
struct LeaseManagerTests {
    @Test("one pass claims a lease's 64 tasks side by side: each delivered once, and their folder fsyncs shared")
    func claimsShareFsyncs() async throws {
        let directory = try TemporaryDirectory(prefix: "pipebus-lease")
        defer { directory.remove() }
        let spool = try TaskSpool(root: directory.path, worker: "marie", logger: LogRecorder().logger)
        let ids = try (0..<64).map { try TaskID("task-\($0)") }
        for id in ids { try spool.submit(object: ["n": 1], id: id) }
        let ledger = LeaseLedger(directory: directory.path + "/leases")
        try ledger.prepare()
        let pool = BlockingPool(name: "test-spool", width: 32)
        defer { pool.close() }
        let leases = LeaseManager(
            spool: spool, ledger: ledger, tracing: TaskTracing(worker: "marie", instance: "test"),
            pool: pool, batchSize: { 64 }, logger: LogRecorder().logger
        )
        let before = spool.commitStatistics.fsyncs
        let (tasks, _) = leases.open(maxInFlight: 64)
        var delivered: [TaskID] = []
        for await task in tasks {
            delivered.append(task.id)
            if delivered.count == ids.count { break }
        }
        #expect(delivered.sorted() == ids.sorted())
        #expect(try spool.counts()[.active] == 64)
        #expect(ledger.tasks().count == 64)
        // One claim after another syncs active/ and pending/ per claim, alone: 128 fsyncs.
        let fsyncs = spool.commitStatistics.fsyncs - before
        #expect(fsyncs < 100, "64 claims made \(fsyncs) folder fsyncs; one at a time makes 128")
        leases.stop()
        #expect(try spool.counts()[.pending] == 64, "a stopped lease manager re-queues what its leases held")
    }
}
