#if GRPC
public import GRPCCore
public import PipeBusCore

/// The services of a pipebus `Router` as one grpc-swift-2 service: every method the pipe serves,
/// served by the very same handlers over HTTP/2. Messages pass as the protobuf bytes they are on
/// the pipe (no second message stack); metadata (`traceparent`, `correlation-id`), the deadline
/// and cancellation reach the handler as they do on the pipe, and its errors become the gRPC
/// status with the same code and message.
///
/// `/pipebus.health.v1.Health/Check` and `Watch` are also served as the standard
/// `grpc.health.v1.Health` (same messages on the wire), so Kubernetes gRPC probes and any
/// standard health checker can ask a sidecar.
public struct GRPCBridge: RegistrableRPCService {
    /// The standard health service's methods, and the pipebus methods that answer them.
    static let standardHealth = [
        ("grpc.health.v1.Health", "Check", "/pipebus.health.v1.Health/Check"),
        ("grpc.health.v1.Health", "Watch", "/pipebus.health.v1.Health/Watch"),
    ]

    public let router: PipeBusCore.Router
    /// Request messages a streaming call may send ahead of its handler (as on the pipe).
    public var inboxCapacity: Int

    public init(router: PipeBusCore.Router, inboxCapacity: Int = ServerConnection.Configuration.defaults.inboxCapacity) {
        self.router = router
        self.inboxCapacity = inboxCapacity
    }

    public func registerMethods<Transport: ServerTransport>(with rpcRouter: inout RPCRouter<Transport>) {
        let served = router.methods
        for method in served {
            let parts = method.split(separator: "/", omittingEmptySubsequences: true)
            guard parts.count == 2 else { continue }
            register(GRPCCore.MethodDescriptor(fullyQualifiedService: String(parts[0]), method: String(parts[1])), servedBy: method, with: &rpcRouter)
        }
        for (service, method, pipebusMethod) in Self.standardHealth where served.contains(pipebusMethod) {
            register(GRPCCore.MethodDescriptor(fullyQualifiedService: service, method: method), servedBy: pipebusMethod, with: &rpcRouter)
        }
    }

    private func register<Transport: ServerTransport>(
        _ descriptor: GRPCCore.MethodDescriptor,
        servedBy method: String,
        with rpcRouter: inout RPCRouter<Transport>
    ) {
        let router = self.router
        let inboxCapacity = self.inboxCapacity
        rpcRouter.registerHandler(forMethod: descriptor, deserializer: RawMessageCoder(), serializer: RawMessageCoder()) { request, context in
            var callContext = PipeBusCore.ServerContext(method: method, metadata: PipeBusCore.Metadata(grpc: request.metadata), peerName: context.remotePeer)
            if let timeout = grpcTimeout(request.metadata) { callContext.deadline = .now + timeout }
            let context = callContext
            let messages = request.messages
            return StreamingServerResponse { writer in
                // gRPC signals cancellation (the client's, or its deadline passing) through the
                // handle, not by cancelling this task: the handler runs as a task of its own,
                // awaited here, and is cancelled when the handle fires.
                let handler = Task {
                    try await router.serve(method: method, context: context, requests: messages, inboxCapacity: inboxCapacity) { message in
                        try await writer.write(message)
                    }
                }
                do {
                    try await withTaskCancellationHandler {
                        try await withRPCCancellationHandler {
                            try await handler.value
                        } onCancelRPC: {
                            handler.cancel()
                        }
                    } onCancel: {
                        handler.cancel()
                    }
                } catch {
                    // grpc-swift cancels the call at its deadline just as at a client's cancel:
                    // past the deadline, the status is DEADLINE_EXCEEDED (as the pipe's), not the
                    // CANCELLED of the cancelled handler, which a client may otherwise receive
                    // before its own timer fires.
                    if let deadline = context.deadline, ContinuousClock.now >= deadline {
                        throw GRPCCore.RPCError(code: .deadlineExceeded, message: "deadline exceeded in \(method)")
                    }
                    throw PipeBusCore.RPCError.grpc(for: error)
                }
                return [:]
            }
        }
    }
}
#endif
