/// Something that makes the four kinds of call: a `ClientConnection`, a reconnecting
/// `PipeClient`, a `SidecarClient` with its circuit breaker. A generated `Client<Caller>` makes
/// its typed calls through one.
public protocol RPCCaller: Sendable {
    func unary<Request: MessageCodable, Response: MessageCodable>(
        _ method: MethodDescriptor,
        request: Request,
        metadata: Metadata,
        timeout: Duration?,
        responseType: Response.Type
    ) async throws -> Response

    func withServerStreaming<Request: MessageCodable, Response: MessageCodable, Result>(
        _ method: MethodDescriptor,
        request: Request,
        metadata: Metadata,
        timeout: Duration?,
        responseType: Response.Type,
        _ body: (ResponseStream<Response>) async throws -> Result
    ) async throws -> Result

    func withClientStreaming<Request: MessageCodable, Response: MessageCodable>(
        _ method: MethodDescriptor,
        metadata: Metadata,
        timeout: Duration?,
        requestType: Request.Type,
        responseType: Response.Type,
        _ body: (RequestSender<Request>) async throws -> Void
    ) async throws -> Response

    func withBidirectional<Request: MessageCodable, Response: MessageCodable, Result>(
        _ method: MethodDescriptor,
        metadata: Metadata,
        timeout: Duration?,
        requestType: Request.Type,
        responseType: Response.Type,
        _ body: (RequestSender<Request>, ResponseStream<Response>) async throws -> Result
    ) async throws -> Result
}

extension ClientConnection: RPCCaller {}

/// A caller that holds its connections until closed: a `PipeClient`, a gRPC caller
/// (`PipeBusGRPC.GRPCCaller`). A `SidecarClient` calls through one.
public protocol ClosableRPCCaller: RPCCaller {
    /// Ends the connections; calls in flight fail with UNAVAILABLE or CANCELLED.
    func close()
}

/// Callers that hand every call to a connection they keep (and remake when it breaks).
public protocol ConnectionProvidingCaller: RPCCaller {
    /// The connection to use now; throws UNAVAILABLE when there is none.
    func connection() throws -> ClientConnection
}

extension ConnectionProvidingCaller {
    public func unary<Request: MessageCodable, Response: MessageCodable>(
        _ method: MethodDescriptor,
        request: Request,
        metadata: Metadata,
        timeout: Duration?,
        responseType: Response.Type
    ) async throws -> Response {
        try await connection().unary(method, request: request, metadata: metadata, timeout: timeout, responseType: responseType)
    }

    public func withServerStreaming<Request: MessageCodable, Response: MessageCodable, Result>(
        _ method: MethodDescriptor,
        request: Request,
        metadata: Metadata,
        timeout: Duration?,
        responseType: Response.Type,
        _ body: (ResponseStream<Response>) async throws -> Result
    ) async throws -> Result {
        try await connection().withServerStreaming(method, request: request, metadata: metadata, timeout: timeout, responseType: responseType, body)
    }

    public func withClientStreaming<Request: MessageCodable, Response: MessageCodable>(
        _ method: MethodDescriptor,
        metadata: Metadata,
        timeout: Duration?,
        requestType: Request.Type,
        responseType: Response.Type,
        _ body: (RequestSender<Request>) async throws -> Void
    ) async throws -> Response {
        try await connection().withClientStreaming(method, metadata: metadata, timeout: timeout, requestType: requestType, responseType: responseType, body)
    }

    public func withBidirectional<Request: MessageCodable, Response: MessageCodable, Result>(
        _ method: MethodDescriptor,
        metadata: Metadata,
        timeout: Duration?,
        requestType: Request.Type,
        responseType: Response.Type,
        _ body: (RequestSender<Request>, ResponseStream<Response>) async throws -> Result
    ) async throws -> Result {
        try await connection().withBidirectional(method, metadata: metadata, timeout: timeout, requestType: requestType, responseType: responseType, body)
    }
}
