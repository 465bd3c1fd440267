/// Calls that arrive over another transport (the gRPC bridge) are served by the same handlers as
/// the pipe's: one registration, two transports.
extension Router {
    /// The full names of the methods served (`/package.Service/Method`), sorted.
    public var methods: [String] { handlers.keys.sorted() }

    /// Serves one call that arrived over another transport: `requests` are its request messages
    /// as they arrive (protobuf bytes), `send` writes one response message. Returns when the
    /// handler is done, or throws what it threw (`Status(handlerError:)` says what to tell the
    /// client); UNIMPLEMENTED for a method this router does not serve. A client that sends more
    /// than `inboxCapacity` messages ahead of the handler gets RESOURCE_EXHAUSTED, as on the pipe.
    /// Cancelling the calling task cancels the handler and fails its sends.
    public func serve<Requests: AsyncSequence & Sendable>(
        method: String,
        context: ServerContext,
        requests: Requests,
        inboxCapacity: Int = ServerConnection.Configuration.defaults.inboxCapacity,
        send: @escaping @Sendable ([UInt8]) async throws -> Void
    ) async throws where Requests.Element == [UInt8] {
        guard let handler = handler(for: method) else {
            throw RPCError(code: .unimplemented, message: "unknown method \(method)")
        }
        switch handler {
        case .inline(let body):
            var iterator = requests.makeAsyncIterator()
            let request = try await iterator.next() ?? []
            let response = try request.withUnsafeBytes { try body($0, context) }
            try await send(response)
        case .task(let body):
            let call = ServerCall(streamID: 0, context: context, inboxCapacity: inboxCapacity, sink: .external(send))
            try await withTaskCancellationHandler {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { await Self.deliver(requests, to: call.inbox, capacity: inboxCapacity) }
                    try await body(call)
                    // The handler is done: requests it did not read are not waited for.
                    group.cancelAll()
                }
            } onCancel: {
                call.markEnded()
            }
        }
    }

    /// Moves the requests into the call's inbox, ending it as the request stream ends.
    private static func deliver<Requests: AsyncSequence>(_ requests: Requests, to inbox: MessageInbox, capacity: Int) async where Requests.Element == [UInt8] {
        do {
            for try await message in requests {
                guard inbox.deliver(message) else {
                    return inbox.finish(RPCError(code: .resourceExhausted, message: "more than \(capacity) request messages buffered"))
                }
            }
            inbox.finish()
        } catch is CancellationError {
            inbox.finish(RPCError(code: .cancelled, message: "the call was cancelled"))
        } catch {
            inbox.finish(RPCError(code: .cancelled, message: "the request stream failed: \(error)"))
        }
    }
}
