public import PipeBusCore
import Synchronization

/// The health service's state and handlers: grpc.health.v1 semantics.
///
/// `""` is the whole server. Check answers NOT_FOUND for a service it does not know; Watch
/// answers SERVICE_UNKNOWN for it, then every change, starting with the current status.
public final class HealthService: Pipebus_Health_V1_Health.ServiceProtocol {
    private struct State {
        var statuses: [String: Pipebus_Health_V1_HealthCheckResponse] = [:]
        var watchers: [Int: (service: String, continuation: AsyncStream<Pipebus_Health_V1_HealthCheckResponse>.Continuation)] = [:]
        var nextWatcher = 0
    }

    private let state = Mutex(State())

    public init() {}

    /// Sets a service's status (and why), telling its watchers when it changed.
    public func setStatus(_ status: Pipebus_Health_V1_HealthCheckResponse.ServingStatus, message: String = "", for service: String = "") {
        let response = Pipebus_Health_V1_HealthCheckResponse(status: status, message: message)
        let watchers = state.withLock { state -> [AsyncStream<Pipebus_Health_V1_HealthCheckResponse>.Continuation] in
            guard state.statuses[service] != response else { return [] }
            state.statuses[service] = response
            return state.watchers.values.filter { $0.service == service }.map(\.continuation)
        }
        for watcher in watchers { watcher.yield(response) }
    }

    /// The current status of `service`, or nil when it is unknown.
    public func status(for service: String = "") -> Pipebus_Health_V1_HealthCheckResponse? {
        state.withLock { $0.statuses[service] }
    }

    /// The services with a status, sorted (`""` excluded).
    public var services: [String] {
        state.withLock { $0.statuses.keys.filter { !$0.isEmpty }.sorted() }
    }

    // MARK: pipebus.health.v1.Health

    public func check(request: Pipebus_Health_V1_HealthCheckRequest, context: ServerContext) throws -> Pipebus_Health_V1_HealthCheckResponse {
        guard let status = status(for: request.service) else {
            throw RPCError(code: .notFound, message: "unknown service \"\(request.service)\"")
        }
        return status
    }

    public func listServices(request: Pipebus_Health_V1_ListServicesRequest, context: ServerContext) throws -> Pipebus_Health_V1_ListServicesResponse {
        Pipebus_Health_V1_ListServicesResponse(services: services)
    }

    public func watch(
        request: Pipebus_Health_V1_HealthCheckRequest,
        response: ResponseWriter<Pipebus_Health_V1_HealthCheckResponse>,
        context: ServerContext
    ) async throws {
        let (updates, id) = subscribe(request.service)
        defer { unsubscribe(id) }
        for await update in updates {
            try await response.write(update)
        }
    }

    private func subscribe(_ service: String) -> (AsyncStream<Pipebus_Health_V1_HealthCheckResponse>, Int) {
        let (stream, continuation) = AsyncStream.makeStream(of: Pipebus_Health_V1_HealthCheckResponse.self, bufferingPolicy: .bufferingNewest(8))
        let id = state.withLock { state -> Int in
            let id = state.nextWatcher
            state.nextWatcher += 1
            state.watchers[id] = (service, continuation)
            continuation.yield(state.statuses[service] ?? Pipebus_Health_V1_HealthCheckResponse(status: .serviceUnknown))
            return id
        }
        return (stream, id)
    }

    private func unsubscribe(_ id: Int) {
        state.withLock { $0.watchers.removeValue(forKey: id) }?.continuation.finish()
    }
}
