import Foundation
import Logging
import PipeBusClient
import PipeBusCore
import PipeBusTasks
import PipeBusPipes
import PipeBusSidecar

#if canImport(Glibc)
import Glibc
#endif

/// A demo pipe worker: leases tasks from its sidecar and "processes" each by sleeping.
///
/// A task's JSON steers it: `duration_ms` (else a random time in `durations`), `"fail": true`
/// (finished as failed), `"stuck": true` (never finished: the runbook's stuck task). Several
/// tasks run at once, at most the lease's batch size. When the sidecar goes away or drains
/// (GOAWAY) the lease is dropped (the sidecar re-queues what it held) and the worker connects
/// again with exponential backoff; it stops when cancelled, or when the sidecar that started it
/// has died.
struct DemoWorker: Sendable {
    var root: String
    var worker: String
    /// The sidecar instance to lease from (the one that started this worker); nil for any.
    var instance: String?
    /// The lease's max_in_flight; nil: the worker config's `batch_size` (its default if unset).
    var batchSize: Int?
    var durations: ClosedRange<Int>
    /// The sidecar that started this worker, if any: when it is gone, so is the worker.
    var parentPID: pid_t?
    var logger: Logger

    /// Serves until cancelled.
    func run() async {
        var backoff = Duration.milliseconds(50)
        logger.info("demo worker started", metadata: ["root": "\(root)"])
        while !Task.isCancelled {
            if let parentPID, getppid() != parentPID {
                logger.warning("the sidecar that started this worker is gone; exiting")
                return
            }
            do {
                try await leaseOnce()
                backoff = .milliseconds(50)
            } catch {
                if Task.isCancelled { break }
                logger.debug("no lease", metadata: ["error": "\(error)"])
            }
            guard await pause(backoff * Double.random(in: 0.8...1.2)) else { break }
            backoff = min(backoff * 2, .seconds(2))
        }
        logger.info("demo worker stopped")
    }

    private struct Draining: Error {}

    /// One connection and one lease, until either ends.
    private func leaseOnce() async throws {
        var configuration = PipeConnector.Configuration.defaults
        configuration.connection.clientName = "pipebus-demo-worker"
        let client = PipeClient(
            directories: SidecarClient.pipeDirectories(SidecarPaths(root: root, worker: worker), instance: instance),
            configuration: configuration
        )
        let connection = try client.connection()
        defer { connection.close() }
        var configured = batchSize ?? 0
        if configured == 0 { configured = try await configuredBatchSize(connection) }
        let maxInFlight = configured
        logger.info("leasing tasks", metadata: ["max_in_flight": "\(maxInFlight)"])
        try await withThrowingTaskGroup(of: Void.self) { group in
            // A draining sidecar (GOAWAY) waits for calls in flight: end the lease at once.
            group.addTask {
                while connection.isUsable { try await Task.sleep(for: .milliseconds(100)) }
                throw Draining()
            }
            group.addTask {
                try await connection.withServerStreaming(
                    Pipebus_Tasks_V1_Tasks.Method.Lease.descriptor,
                    request: Pipebus_Tasks_V1_LeaseRequest(maxInFlight: UInt32(clamping: maxInFlight)),
                    responseType: Pipebus_Tasks_V1_Task.self
                ) { tasks in
                    await withDiscardingTaskGroup { work in
                        do {
                            for try await task in tasks {
                                work.addTask { await process(task, on: connection) }
                            }
                        } catch {
                            logger.info("lease ended", metadata: ["error": "\(error)"])
                        }
                        work.cancelAll()
                    }
                }
            }
            defer { group.cancelAll() }
            do {
                try await group.next()
            } catch is Draining {
                logger.info("the sidecar is draining; lease dropped")
            }
        }
    }

    private func configuredBatchSize(_ connection: ClientConnection) async throws -> Int {
        let config = try await connection.unary(
            Pipebus_Tasks_V1_Tasks.Method.GetConfig.descriptor,
            request: Pipebus_Tasks_V1_Empty(),
            timeout: .seconds(2),
            responseType: Pipebus_Tasks_V1_ConfigMessage.self
        )
        let object = (try? JSONSerialization.jsonObject(with: Data(config.json))) as? [String: Any]
        return WorkerConfig.batchSize.value(in: object ?? [:])
    }

    /// Works on one task, then finishes it (unless it is the stuck kind or the lease ended).
    private func process(_ task: Pipebus_Tasks_V1_Task, on connection: ClientConnection) async {
        let object = (try? TaskFile.parseObject(task.json)) ?? [:]
        var metadata: Logger.Metadata = ["task_id": "\(task.id)", "correlation_id": "\(task.correlationID)"]
        if Self.flag(object["stuck"]) {
            logger.warning("task is stuck; it will never finish", metadata: metadata)
            while await pause(.seconds(3600)) {}
            return
        }
        let milliseconds = Self.integer(object["duration_ms"]) ?? Int.random(in: durations)
        metadata["duration_ms"] = "\(milliseconds)"
        guard await pause(.milliseconds(milliseconds)) else { return }
        let request: Pipebus_Tasks_V1_FinishRequest
        if Self.flag(object["fail"]) {
            let message = TaskFile(object: object).errorMessage ?? "the task asked to fail (fail: true)"
            request = Pipebus_Tasks_V1_FinishRequest(id: task.id, failed: true, error: message)
        } else {
            var result: [String: Any] = [
                "worker": worker, "duration_ms": milliseconds, "output": "processed \(task.id)",
            ]
            if let instance { result["instance"] = instance }
            let json = (try? JSONSerialization.data(withJSONObject: result, options: [.sortedKeys])) ?? Data("{}".utf8)
            request = Pipebus_Tasks_V1_FinishRequest(id: task.id, resultJson: Array(json))
        }
        do {
            // The task's trace context, so the finish is part of its trace.
            let trace: Metadata = task.traceparent.isEmpty ? [:] : [MetadataKey.traceparent: task.traceparent]
            _ = try await connection.unary(
                Pipebus_Tasks_V1_Tasks.Method.Finish.descriptor,
                request: request,
                metadata: trace,
                timeout: .seconds(5),
                responseType: Pipebus_Tasks_V1_Task.self
            )
            logger.info(request.failed ? "task failed" : "task completed", metadata: metadata)
        } catch {
            logger.warning("could not finish the task", metadata: metadata.merging(["error": "\(error)"]) { $1 })
        }
    }

    static func flag(_ value: Any?) -> Bool {
        if let value = value as? Bool { return value }
        if let value = value as? NSNumber { return value.boolValue }
        return false
    }

    static func integer(_ value: Any?) -> Int? {
        if let value = value as? Int { return value }
        if let value = value as? Double, value.isFinite { return Int(value) }
        if let value = value as? NSNumber { return value.intValue }
        return nil
    }
}
