/// The methods a server serves, by full name. Built before the server starts, then immutable.
public struct Router: Sendable {
    enum Handler: Sendable {
        /// A quick unary handler, run inline on the thread that read the request: no task, no
        /// queue, no thread hop (DESIGN §5). It must not block for long.
        case inline(@Sendable (UnsafeRawBufferPointer, ServerContext) throws -> [UInt8])
        /// Everything else runs as a task on the connection's own executor (its reader thread).
        case task(@Sendable (ServerCall) async throws -> Void)
    }

    private(set) var handlers: [String: Handler] = [:]

    public init() {}

    /// The services with at least one method, sorted.
    public var services: [String] {
        Set(handlers.keys.compactMap { $0.split(separator: "/").first.map(String.init) }).sorted()
    }

    func handler(for method: String) -> Handler? { handlers[method] }

    /// A unary method whose handler is quick and synchronous: it runs on the reader thread.
    public mutating func registerInline<Request: MessageCodable, Response: MessageCodable>(
        _ method: MethodDescriptor,
        request: Request.Type = Request.self,
        response: Response.Type = Response.self,
        handler: @escaping @Sendable (Request, ServerContext) throws -> Response
    ) {
        handlers[method.fullName] = .inline { bytes, context in
            try handler(Request(serializedBytes: bytes), context).serializedBytes()
        }
    }

    /// A unary method with an async handler (it may await, e.g. file I/O on another thread).
    public mutating func registerUnary<Request: MessageCodable, Response: MessageCodable>(
        _ method: MethodDescriptor,
        request: Request.Type = Request.self,
        response: Response.Type = Response.self,
        handler: @escaping @Sendable (Request, ServerContext) async throws -> Response
    ) {
        handlers[method.fullName] = .task { call in
            let request = try await call.singleRequest(Request.self)
            try await call.send(try await handler(request, call.context).serializedBytes())
        }
    }

    public mutating func registerServerStreaming<Request: MessageCodable, Response: MessageCodable>(
        _ method: MethodDescriptor,
        request: Request.Type = Request.self,
        response: Response.Type = Response.self,
        handler: @escaping @Sendable (Request, ResponseWriter<Response>, ServerContext) async throws -> Void
    ) {
        handlers[method.fullName] = .task { call in
            let request = try await call.singleRequest(Request.self)
            try await handler(request, ResponseWriter(call: call), call.context)
        }
    }

    public mutating func registerClientStreaming<Request: MessageCodable, Response: MessageCodable>(
        _ method: MethodDescriptor,
        request: Request.Type = Request.self,
        response: Response.Type = Response.self,
        handler: @escaping @Sendable (RequestStream<Request>, ServerContext) async throws -> Response
    ) {
        handlers[method.fullName] = .task { call in
            try await call.send(try await handler(RequestStream(inbox: call.inbox), call.context).serializedBytes())
        }
    }

    public mutating func registerBidirectional<Request: MessageCodable, Response: MessageCodable>(
        _ method: MethodDescriptor,
        request: Request.Type = Request.self,
        response: Response.Type = Response.self,
        handler: @escaping @Sendable (RequestStream<Request>, ResponseWriter<Response>, ServerContext) async throws -> Void
    ) {
        handlers[method.fullName] = .task { call in
            try await handler(RequestStream(inbox: call.inbox), ResponseWriter(call: call), call.context)
        }
    }
}
