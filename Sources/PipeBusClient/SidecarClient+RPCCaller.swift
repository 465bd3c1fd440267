public import PipeBusCore

/// The generated clients call through a `SidecarClient`: a unary call goes through the circuit
/// breaker with the client's default timeout; a stream goes straight to the connection (it lasts
/// as long as its reader wants). Either way, a sidecar that cannot be reached is named.
extension SidecarClient: ConnectionProvidingCaller {
    public func unary<Request: MessageCodable, Response: MessageCodable>(
        _ method: MethodDescriptor,
        request: Request,
        metadata: Metadata,
        timeout: Duration?,
        responseType: Response.Type
    ) async throws -> Response {
        try await breaker.call {
            try await namingUnreachable {
                try await client.unary(method, request: request, metadata: metadata, timeout: timeout ?? defaultTimeout, responseType: responseType)
            }
        }
    }

    /// The connection to the sidecar, or UNAVAILABLE naming the worker: the streams' (the
    /// protocol's default forwarding).
    public func connection() throws -> ClientConnection {
        try namingUnreachable { try client.connection() }
    }

    private func namingUnreachable<Result>(_ body: () throws -> Result) throws -> Result {
        do {
            return try body()
        } catch let error as RPCError where error.code == .unavailable {
            throw unreachable(error)
        }
    }

    private func namingUnreachable<Result>(_ body: () async throws -> Result) async throws -> Result {
        do {
            return try await body()
        } catch let error as RPCError where error.code == .unavailable {
            throw unreachable(error)
        }
    }

    private func unreachable(_ error: RPCError) -> RPCError {
        RPCError(code: .unavailable, message: "sidecar of worker \(worker) is not reachable: \(error.message)", cause: error.cause)
    }
}
