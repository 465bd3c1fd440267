import Foundation
import PipeBusCore
import PipeBusTestSupport
import Testing
import PipeBusTasks
import PipeBusHealth

#if canImport(Glibc)
import Glibc
#endif

/// A supervised worker that dies, and pipe workers leasing tasks over the pipe.
@Suite("Sidecar integration: supervision and pipe workers", .serialized)
struct SupervisionAndLeaseTests {
    private func withSidecar(
        mode: String = "spool",
        command: [String] = [],
        _ body: (Integration.Root, Integration.SidecarProcess, Integration.Client) async throws -> Void
    ) async throws {
        let root = try Integration.Root.make(worker: "marie")
        defer { root.remove() }
        let sidecar = try await Integration.SidecarProcess(root: root, heartbeatInterval: 0.5, mode: mode, command: command)
        let client = try await Integration.Client.connect(root, timeout: .seconds(10))
        do {
            try await body(root, sidecar, client)
        } catch {
            Issue.record("sidecar log tail:\n\(sidecar.logTail(60))")
            client.close()
            await sidecar.killEverything()
            throw error
        }
        client.close()
        await sidecar.killEverything()
    }

    @Test("kill -9 of the supervised worker: NOT_SERVING naming the worker, heartbeat worker_alive false")
    func supervisedWorkerDies() async throws {
        try await withSidecar(command: ["sleep", "1000"]) { root, _, client in
            let workerPID = try await eventuallyValue("a heartbeat with a live worker_pid") { () -> Int? in
                guard let heartbeat = root.heartbeat(), heartbeat["worker_alive"] as? Bool == true,
                    let pid = heartbeat["worker_pid"] as? Int, pid > 0
                else { return nil }
                return pid
            }
            try await eventually("SERVING while the worker runs") { try await client.health().status == .serving }
            #expect(try await client.status().workerPid == UInt32(workerPID))

            #expect(kill(pid_t(workerPID), SIGKILL) == 0)
            let health = try await eventuallyValue("NOT_SERVING after the worker was killed", timeout: .seconds(5)) { () -> Pipebus_Health_V1_HealthCheckResponse? in
                let health = try await client.health()
                return health.status == .notServing ? health : nil
            }
            #expect(health.message.contains("worker"), "\(health.message)")
            #expect(health.message.contains("signal 9"), "\(health.message)")
            try await eventually("heartbeat.json with worker_alive false", timeout: .seconds(5)) {
                root.heartbeat()?["worker_alive"] as? Bool == false
            }
            let heartbeat = try #require(root.heartbeat())
            #expect(heartbeat["health"] as? String == "\(Pipebus_Health_V1_HealthCheckResponse.ServingStatus.notServing)")
            #expect((heartbeat["health_message"] as? String)?.contains("worker") == true)
            #expect(try await client.status().workerAlive == false)
        }
    }

    @Test("a pipe worker's lease gets at most batch_size tasks in flight; batch_size is re-read without restart")
    func leaseRespectsBatchSize() async throws {
        try await withSidecar(mode: "pipe") { root, _, client in
            #expect(try await client.status().batchSize == 10)
            try root.write(#"{"batch_size": 2}"#, to: root.configPath)
            try await eventually("the sidecar to pick up batch_size 2 (no restart)") {
                try await client.status().batchSize == 2
            }

            let worker = try await Integration.Client.connect(root, timeout: .seconds(5))
            defer { worker.close() }
            let lease = Integration.LeaseCollector(worker, Pipebus_Tasks_V1_Tasks.Method.Lease.descriptor, request: Pipebus_Tasks_V1_LeaseRequest(maxInFlight: 0))
            let ids = (0..<5).map { "batch-\($0)" }
            for id in ids { _ = try await client.submit(#"{"prompt":"p"}"#, id: id) }

            func checkInFlight(_ step: String) {
                let active = root.taskIDs("active").count
                #expect(active <= 2, "\(step): \(active) tasks in active/ with batch_size 2")
                let received = lease.messages.count
                let finished = root.taskIDs("completed").count
                #expect(received - finished <= 2, "\(step): \(received) received, \(finished) finished")
            }
            try await eventually("the lease to receive 2 tasks") { lease.messages.count == 2 }
            // Give the sidecar two more heartbeats (each pumps the leases): still 2.
            let seq = try await client.status().heartbeatSeq
            try await eventually("two more heartbeats") { try await client.status().heartbeatSeq >= seq + 2 }
            #expect(lease.messages.count == 2)
            checkInFlight("before any finish")
            #expect(root.taskIDs("pending").count == 3)

            var finished = 0
            while finished < ids.count {
                let next = lease.messages[finished]
                #expect(next.state == .active)
                #expect(next.attempts == 1)
                _ = try await worker.finish(next.id)
                finished += 1
                let expected = min(ids.count, finished + 2)
                try await eventually("the lease to receive task \(expected) after \(finished) finished") {
                    lease.messages.count == expected
                }
                checkInFlight("after \(finished) finished")
            }
            #expect(Set(lease.messages.map(\.id)) == Set(ids))
            try await eventually("all 5 completed") { root.taskIDs("completed").count == 5 }
            #expect(Integration.spoolProblems(root, acknowledged: ids).isEmpty)
        }
    }

    @Test("a lease whose connection is dropped returns its unfinished tasks to pending/ with attempts incremented")
    func droppedLeaseRequeues() async throws {
        try await withSidecar(mode: "pipe") { root, sidecar, client in
            let first = try await Integration.Client.connect(root, timeout: .seconds(5))
            let lease = Integration.LeaseCollector(first, Pipebus_Tasks_V1_Tasks.Method.Lease.descriptor, request: Pipebus_Tasks_V1_LeaseRequest(maxInFlight: 0))
            let ids = ["drop-0", "drop-1", "drop-2"]
            for id in ids { _ = try await client.submit(#"{"prompt":"p"}"#, id: id) }
            try await eventually("the lease to receive 3 tasks") { lease.messages.count == 3 }
            #expect(root.taskIDs("active").sorted() == ids)
            _ = try await first.finish("drop-0")

            // The worker's connection drops with two tasks unfinished.
            first.close()
            try await eventually("the unfinished tasks back in pending/", timeout: .seconds(10)) {
                root.taskIDs("pending").sorted() == ["drop-1", "drop-2"]
            }
            #expect(root.taskIDs("active").isEmpty)
            #expect(root.state(of: "drop-0") == "completed")
            for id in ["drop-1", "drop-2"] {
                #expect(try root.object(id, "pending")["attempts"] as? Int == 1, "attempts of \(id)")
                // The sidecar logs a re-queue just after its rename: the file can be seen first.
                try await eventually("the re-queue of \(id) logged") {
                    !sidecar.logLines(containing: "re-queued", fields: ["task_id": id]).isEmpty
                }
            }
            try await eventually("NOT_SERVING with no pipe worker leasing", timeout: .seconds(5)) {
                try await client.health().status == .notServing
            }

            // The next worker gets them again, a second attempt.
            let second = try await Integration.Client.connect(root, timeout: .seconds(5))
            defer { second.close() }
            let again = Integration.LeaseCollector(second, Pipebus_Tasks_V1_Tasks.Method.Lease.descriptor, request: Pipebus_Tasks_V1_LeaseRequest(maxInFlight: 0))
            try await eventually("the second lease to receive both") { again.messages.count == 2 }
            #expect(Set(again.messages.map(\.id)) == ["drop-1", "drop-2"])
            #expect(again.messages.allSatisfy { $0.attempts == 2 })
            for task in again.messages { _ = try await second.finish(task.id) }
            try await eventually("all completed") { root.taskIDs("completed").count == 3 }
        }
    }
}
