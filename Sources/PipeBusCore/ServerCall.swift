import Synchronization

/// One call in progress, as its handler sees it: on a pipe connection, or on another transport
/// that serves the same router (the gRPC bridge, `Router.serve`).
final class ServerCall: Sendable {
    /// Where the response messages go.
    enum Sink: Sendable {
        /// The pipe connection's stream: written at once, from the calling thread.
        case connection(ServerConnection)
        /// Another transport's writer, which may suspend (HTTP/2 flow control).
        case external(@Sendable ([UInt8]) async throws -> Void)
    }

    let streamID: UInt32
    let context: ServerContext
    let inbox: MessageInbox
    // The sink as two optionals: the pipe's case reads a stored property, as the pipe-only call
    // did, rather than copying the connection out of an enum payload per message.
    private let connection: ServerConnection?
    private let external: (@Sendable ([UInt8]) async throws -> Void)?
    private let ended = Atomic<Bool>(false)

    init(streamID: UInt32, context: ServerContext, inboxCapacity: Int, sink: Sink) {
        self.streamID = streamID
        self.context = context
        self.inbox = MessageInbox(capacity: inboxCapacity)
        switch sink {
        case .connection(let connection):
            self.connection = connection
            self.external = nil
        case .external(let write):
            self.connection = nil
            self.external = write
        }
    }

    /// The call was cancelled, timed out, or the connection went away: sends now fail.
    func markEnded() {
        ended.store(true, ordering: .relaxed)
        inbox.finish(RPCError(code: .cancelled, message: "the call was cancelled"))
    }

    var hasEnded: Bool { ended.load(ordering: .relaxed) }

    /// Sends an async handler's reply, off the handler's executor as any nonisolated call.
    /// Sending it with `sendStreamed` instead read slower two-vCPU in two of three alternations
    /// (echoAsync p50 ~24 µs against ~19 µs), within this machine's noise: left as it was until an
    /// A/B can tell.
    func send(_ message: [UInt8]) async throws {
        try await sendStreamed(message)
    }

    /// Sends one message of a response stream on the caller's executor (`nonisolated(nonsending)`):
    /// a hop to the generic executor and back per message looked up the task's executor preference
    /// under its status lock each time (a tenth of the server's CPU in a 64 B stream).
    nonisolated(nonsending) func sendStreamed(_ message: [UInt8]) async throws {
        if hasEnded { throw RPCError(code: .cancelled, message: "the call was cancelled or timed out") }
        if let connection { return try connection.sendMessage(message, on: streamID) }
        try await external?(message)
    }

    /// The one request message of a unary or server-streaming call.
    func singleRequest<Request: MessageCodable>(_ type: Request.Type) async throws -> Request {
        guard let bytes = try await inbox.next() else {
            throw RPCError(code: .internal, message: "\(context.method): the client sent no request message")
        }
        return try Request(serializedBytes: bytes)
    }
}
