/// A method with its message types, as generated from a `.proto`
/// (`Pipebus_Tasks_V1_Tasks.Method.Submit`): server and client name one type, so neither can
/// restate the request or response type wrongly.
public protocol RPCMethod {
    associatedtype Input: MessageCodable
    associatedtype Output: MessageCodable
    /// The method's path on the wire.
    static var descriptor: MethodDescriptor { get }
}

/// A service a server can serve: it adds its methods to a router. A generated
/// `ServiceProtocol` conforms, so a service is its `.proto` plus the handler bodies.
public protocol RegistrableService: Sendable {
    func registerMethods(with router: inout Router)
}

extension Router {
    /// A router that serves `services`.
    public init(services: [any RegistrableService]) {
        self.init()
        for service in services { register(service) }
    }

    /// Adds every method of `service`.
    public mutating func register(_ service: some RegistrableService) {
        service.registerMethods(with: &self)
    }

    /// A quick synchronous unary handler, run inline on the reader thread.
    public mutating func registerInline<M: RPCMethod>(
        _ method: M.Type,
        handler: @escaping @Sendable (M.Input, ServerContext) throws -> M.Output
    ) {
        registerInline(M.descriptor, request: M.Input.self, response: M.Output.self, handler: handler)
    }

    public mutating func registerUnary<M: RPCMethod>(
        _ method: M.Type,
        handler: @escaping @Sendable (M.Input, ServerContext) async throws -> M.Output
    ) {
        registerUnary(M.descriptor, request: M.Input.self, response: M.Output.self, handler: handler)
    }

    public mutating func registerServerStreaming<M: RPCMethod>(
        _ method: M.Type,
        handler: @escaping @Sendable (M.Input, ResponseWriter<M.Output>, ServerContext) async throws -> Void
    ) {
        registerServerStreaming(M.descriptor, request: M.Input.self, response: M.Output.self, handler: handler)
    }

    public mutating func registerClientStreaming<M: RPCMethod>(
        _ method: M.Type,
        handler: @escaping @Sendable (RequestStream<M.Input>, ServerContext) async throws -> M.Output
    ) {
        registerClientStreaming(M.descriptor, request: M.Input.self, response: M.Output.self, handler: handler)
    }

    public mutating func registerBidirectional<M: RPCMethod>(
        _ method: M.Type,
        handler: @escaping @Sendable (RequestStream<M.Input>, ResponseWriter<M.Output>, ServerContext) async throws -> Void
    ) {
        registerBidirectional(M.descriptor, request: M.Input.self, response: M.Output.self, handler: handler)
    }
}
