import PipeBusCore
import Testing

/// The `RPCError` `body` throws, or nil (and a recorded issue) if it returns or throws another error.
func rpcError<T>(
    _ body: () async throws -> T,
    sourceLocation: SourceLocation = #_sourceLocation
) async -> RPCError? {
    do {
        let value = try await body()
        Issue.record("expected an RPCError, got \(value)", sourceLocation: sourceLocation)
        return nil
    } catch let error as RPCError {
        return error
    } catch {
        Issue.record("expected an RPCError, got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}
