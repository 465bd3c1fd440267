import Synchronization

/// The health service's state and handlers: grpc.health.v1 semantics.
///
/// `""` is the whole server. Check answers NOT_FOUND for a service it does not know; Watch
/// answers SERVICE_UNKNOWN for it, then every change, starting with the current status.
public final class HealthService: Sendable {
    private struct State {
        var statuses: [String: Health.CheckResponse] = [:]
        var watchers: [Int: (service: String, continuation: AsyncStream<Health.CheckResponse>.Continuation)] = [:]
        var nextWatcher = 0
    }

    private let state = Mutex(State())

    public init() {}

    /// Sets a service's status (and why), telling its watchers when it changed.
    public func setStatus(_ status: Health.ServingStatus, message: String = "", for service: String = "") {
        let response = Health.CheckResponse(status: status, message: message)
        let watchers = state.withLock { state -> [AsyncStream<Health.CheckResponse>.Continuation] in
            guard state.statuses[service] != response else { return [] }
            state.statuses[service] = response
            return state.watchers.values.filter { $0.service == service }.map(\.continuation)
        }
        for watcher in watchers { watcher.yield(response) }
    }

    /// The current status of `service`, or nil when it is unknown.
    public func status(for service: String = "") -> Health.CheckResponse? {
        state.withLock { $0.statuses[service] }
    }

    /// The services with a status, sorted (`""` excluded).
    public var services: [String] {
        state.withLock { $0.statuses.keys.filter { !$0.isEmpty }.sorted() }
    }

    /// Adds Check, Watch and ListServices to `router`.
    public func register(in router: inout Router) {
        router.registerInline(Health.check, request: Health.CheckRequest.self, response: Health.CheckResponse.self) { request, _ in
            guard let status = self.status(for: request.service) else {
                throw RPCError(code: .notFound, message: "unknown service \"\(request.service)\"")
            }
            return status
        }
        router.registerInline(Health.listServices, request: Health.ListServicesRequest.self, response: Health.ListServicesResponse.self) { _, _ in
            Health.ListServicesResponse(services: self.services)
        }
        router.registerServerStreaming(Health.watch, request: Health.CheckRequest.self, response: Health.CheckResponse.self) { request, writer, _ in
            let (updates, id) = self.subscribe(request.service)
            defer { self.unsubscribe(id) }
            for await update in updates {
                try await writer.write(update)
            }
        }
    }

    private func subscribe(_ service: String) -> (AsyncStream<Health.CheckResponse>, Int) {
        let (stream, continuation) = AsyncStream.makeStream(of: Health.CheckResponse.self, bufferingPolicy: .bufferingNewest(8))
        let id = state.withLock { state -> Int in
            let id = state.nextWatcher
            state.nextWatcher += 1
            state.watchers[id] = (service, continuation)
            continuation.yield(state.statuses[service] ?? Health.CheckResponse(status: .serviceUnknown))
            return id
        }
        return (stream, id)
    }

    private func unsubscribe(_ id: Int) {
        state.withLock { $0.watchers.removeValue(forKey: id) }?.continuation.finish()
    }
}
