import Synchronization

/// One call in progress on a server connection, as its handler sees it.
final class ServerCall: Sendable {
    let streamID: UInt32
    let context: ServerContext
    let inbox: MessageInbox
    private let connection: ServerConnection
    private let ended = Atomic<Bool>(false)

    init(streamID: UInt32, context: ServerContext, inboxCapacity: Int, connection: ServerConnection) {
        self.streamID = streamID
        self.context = context
        self.inbox = MessageInbox(capacity: inboxCapacity)
        self.connection = connection
    }

    /// The call was cancelled, timed out, or the connection went away: sends now fail.
    func markEnded() {
        ended.store(true, ordering: .relaxed)
        inbox.finish(RPCError(code: .cancelled, message: "the call was cancelled"))
    }

    var hasEnded: Bool { ended.load(ordering: .relaxed) }

    func send(_ message: [UInt8]) throws {
        if hasEnded { throw RPCError(code: .cancelled, message: "the call was cancelled or timed out") }
        try connection.sendMessage(message, on: streamID)
    }

    /// The one request message of a unary or server-streaming call.
    func singleRequest<Request: MessageCodable>(_ type: Request.Type) async throws -> Request {
        guard let bytes = try await inbox.next() else {
            throw RPCError(code: .internal, message: "\(context.method): the client sent no request message")
        }
        return try Request(serializedBytes: bytes)
    }
}
