public import PipeBusCore

/// The generated clients call through a `SidecarClient`: a unary call goes through the circuit
/// breaker with the client's default timeout; a stream goes straight to the connection (it lasts
/// as long as its reader wants), or to the remote caller. Either way, a sidecar that cannot be
/// reached is named.
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
                switch channel {
                case .pipe(let client):
                    try await client.unary(method, request: request, metadata: metadata, timeout: timeout ?? defaultTimeout, responseType: responseType)
                case .remote(let caller):
                    try await caller.unary(method, request: request, metadata: metadata, timeout: timeout ?? defaultTimeout, responseType: responseType)
                }
            }
        }
    }

    /// The pipe connection to the sidecar, or UNAVAILABLE naming the worker: the streams'.
    /// FAILED_PRECONDITION for a remote sidecar, which has none.
    public func connection() throws -> ClientConnection {
        switch channel {
        case .pipe(let client):
            return try namingUnreachable { try client.connection() }
        case .remote:
            throw RPCError(code: .failedPrecondition, message: "the sidecar of worker \(worker) at \(target ?? "?") is remote: it has no pipe connection")
        }
    }

    public func withServerStreaming<Request: MessageCodable, Response: MessageCodable, Result>(
        _ method: MethodDescriptor,
        request: Request,
        metadata: Metadata,
        timeout: Duration?,
        responseType: Response.Type,
        _ body: (ResponseStream<Response>) async throws -> Result
    ) async throws -> Result {
        guard case .remote(let caller) = channel else {
            return try await connection().withServerStreaming(method, request: request, metadata: metadata, timeout: timeout, responseType: responseType, body)
        }
        return try await namingUnreachable {
            try await caller.withServerStreaming(method, request: request, metadata: metadata, timeout: timeout, responseType: responseType, body)
        }
    }

    public func withClientStreaming<Request: MessageCodable, Response: MessageCodable>(
        _ method: MethodDescriptor,
        metadata: Metadata,
        timeout: Duration?,
        requestType: Request.Type,
        responseType: Response.Type,
        _ body: (RequestSender<Request>) async throws -> Void
    ) async throws -> Response {
        guard case .remote(let caller) = channel else {
            return try await connection().withClientStreaming(method, metadata: metadata, timeout: timeout, requestType: requestType, responseType: responseType, body)
        }
        return try await namingUnreachable {
            try await caller.withClientStreaming(method, metadata: metadata, timeout: timeout, requestType: requestType, responseType: responseType, body)
        }
    }

    public func withBidirectional<Request: MessageCodable, Response: MessageCodable, Result>(
        _ method: MethodDescriptor,
        metadata: Metadata,
        timeout: Duration?,
        requestType: Request.Type,
        responseType: Response.Type,
        _ body: (RequestSender<Request>, ResponseStream<Response>) async throws -> Result
    ) async throws -> Result {
        guard case .remote(let caller) = channel else {
            return try await connection().withBidirectional(method, metadata: metadata, timeout: timeout, requestType: requestType, responseType: responseType, body)
        }
        return try await namingUnreachable {
            try await caller.withBidirectional(method, metadata: metadata, timeout: timeout, requestType: requestType, responseType: responseType, body)
        }
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
        RPCError(code: .unavailable, message: "sidecar of worker \(worker)\(target.map { " at \($0)" } ?? "") is not reachable: \(error.message)", cause: error.cause)
    }
}
