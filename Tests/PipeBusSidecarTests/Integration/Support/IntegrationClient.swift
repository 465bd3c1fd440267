import Foundation
import PipeBusCore
import PipeBusPipes
import PipeBusTestSupport
import Synchronization
import PipeBusTasks
import PipeBusHealth

extension Integration {
    /// One pipe connection to a sidecar, with typed calls (what `PipeBusClient.SidecarClient`
    /// offers, which this test target does not depend on).
    final class Client: Sendable {
        let connection: ClientConnection
        let callTimeout: Duration

        init(connection: ClientConnection, callTimeout: Duration = .seconds(5)) {
            self.connection = connection
            self.callTimeout = callTimeout
        }

        /// Connects once to one instance (`it`, what `SidecarProcess` starts, by default);
        /// UNAVAILABLE when no sidecar is listening.
        static func connect(_ root: Root, instance: String = "it") throws -> Client {
            Client(connection: try PipeConnector.connect(to: PipeDirectory(path: "\(root.workerDirectory)/instances/\(instance)/pipes")))
        }

        /// Connects, retrying until the sidecar listens (at most `timeout`).
        static func connect(_ root: Root, instance: String = "it", timeout: Duration) async throws -> Client {
            try await eventuallyValue("a connection to the sidecar of \(root.worker)", timeout: timeout, every: .milliseconds(10)) {
                try connect(root, instance: instance)
            }
        }

        func close() { connection.close() }

        func submit(_ json: String, id: String = "", correlationID: String = "") async throws -> Pipebus_Tasks_V1_Task {
            try await connection.unary(
                Pipebus_Tasks_V1_Tasks.Method.Submit.descriptor,
                request: Pipebus_Tasks_V1_SubmitRequest(id: id, json: Array(json.utf8), correlationID: correlationID),
                timeout: callTimeout,
                responseType: Pipebus_Tasks_V1_Task.self
            )
        }

        func get(_ id: String) async throws -> Pipebus_Tasks_V1_Task {
            try await connection.unary(Pipebus_Tasks_V1_Tasks.Method.Get.descriptor, request: Pipebus_Tasks_V1_TaskRef(id: id), timeout: callTimeout, responseType: Pipebus_Tasks_V1_Task.self)
        }

        func status() async throws -> Pipebus_Tasks_V1_WorkerStatus {
            try await connection.unary(Pipebus_Tasks_V1_Tasks.Method.Status.descriptor, request: Pipebus_Tasks_V1_Empty(), timeout: callTimeout, responseType: Pipebus_Tasks_V1_WorkerStatus.self)
        }

        func health(timeout: Duration? = nil) async throws -> Pipebus_Health_V1_HealthCheckResponse {
            try await connection.unary(
                Pipebus_Health_V1_Health.Method.Check.descriptor,
                request: Pipebus_Health_V1_HealthCheckRequest(service: ""),
                timeout: timeout ?? callTimeout,
                responseType: Pipebus_Health_V1_HealthCheckResponse.self
            )
        }

        func clearStuck(olderThan: Duration, dryRun: Bool = false) async throws -> [Pipebus_Tasks_V1_Task] {
            let milliseconds = UInt64(olderThan.components.seconds) * 1000 + UInt64(olderThan.components.attoseconds / 1_000_000_000_000_000)
            return try await connection.unary(
                Pipebus_Tasks_V1_Tasks.Method.ClearStuck.descriptor,
                request: Pipebus_Tasks_V1_ClearStuckRequest(olderThanMs: milliseconds, dryRun: dryRun),
                timeout: callTimeout,
                responseType: Pipebus_Tasks_V1_TaskList.self
            ).tasks
        }

        func finish(_ id: String, result: String = "{\"ok\":true}") async throws -> Pipebus_Tasks_V1_Task {
            try await connection.unary(
                Pipebus_Tasks_V1_Tasks.Method.Finish.descriptor,
                request: Pipebus_Tasks_V1_FinishRequest(id: id, resultJson: Array(result.utf8)),
                timeout: callTimeout,
                responseType: Pipebus_Tasks_V1_Task.self
            )
        }
    }

    /// Reads a server stream (events, or a lease) on a task of its own, keeping what arrived so
    /// that a test can poll it with a deadline. Ends when the connection closes or `stop()`.
    final class StreamCollector<Message: MessageCodable & Sendable>: Sendable {
        private let received = Mutex<[Message]>([])
        private let ending = Mutex<(ended: Bool, error: String?)>((false, nil))
        private let reader = Mutex<Task<Void, Never>?>(nil)

        init<Request: MessageCodable & Sendable>(_ client: Client, _ method: MethodDescriptor, request: Request) {
            let connection = client.connection
            let task = Task.detached { [self] in
                do {
                    try await connection.withServerStreaming(method, request: request, responseType: Message.self) { stream in
                        for try await message in stream {
                            self.received.withLock { $0.append(message) }
                        }
                    }
                    self.ending.withLock { $0 = (true, nil) }
                } catch {
                    self.ending.withLock { $0 = (true, "\(error)") }
                }
            }
            reader.withLock { $0 = task }
        }

        var messages: [Message] { received.withLock { $0 } }
        var ended: Bool { ending.withLock { $0.ended } }
        var error: String? { ending.withLock { $0.error } }

        func stop() {
            reader.withLock { $0 }?.cancel()
        }

        /// Waits until a message satisfies `predicate`; returns it.
        @discardableResult
        func first(
            _ what: @autoclosure () -> String,
            timeout: Duration = .seconds(10),
            where predicate: (Message) -> Bool
        ) async throws -> Message {
            try await eventuallyValue(what(), timeout: timeout) {
                if let found = messages.first(where: predicate) { return found }
                if ended { throw Failure("the stream ended: \(error ?? "OK")") }
                return nil
            }
        }
    }

    typealias EventCollector = StreamCollector<Pipebus_Tasks_V1_Event>
    typealias LeaseCollector = StreamCollector<Pipebus_Tasks_V1_Task>

    /// Subscribes to the event stream and returns once the subscription surely is in place
    /// (its first event, a heartbeat at the latest, has arrived).
    static func subscribeToEvents(_ client: Client, timeout: Duration = .seconds(10)) async throws -> EventCollector {
        let events = EventCollector(client, Pipebus_Tasks_V1_Tasks.Method.WatchEvents.descriptor, request: Pipebus_Tasks_V1_WatchRequest(afterSeq: 0))
        try await events.first("the first event", timeout: timeout) { _ in true }
        return events
    }
}
