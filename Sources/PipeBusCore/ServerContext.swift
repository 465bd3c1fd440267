/// What a handler knows about the call it serves.
public struct ServerContext: Sendable {
    /// The method called, as sent: `/package.Service/Method`.
    public var method: String
    /// The request metadata (`traceparent`, `correlation-id`, …).
    public var metadata: Metadata
    /// When the caller stops waiting, if it set a deadline.
    public var deadline: ContinuousClock.Instant? {
        get {
            guard deadlineNanoseconds != 0 else { return nil }
            let now = MonotonicClock.nanoseconds()
            let remaining = deadlineNanoseconds > now ? Int64(deadlineNanoseconds - now) : -Int64(now - deadlineNanoseconds)
            return ContinuousClock.now + .nanoseconds(remaining)
        }
        set {
            deadlineNanoseconds = newValue.map { MonotonicClock.nanoseconds() &+ MonotonicClock.nanoseconds(ContinuousClock.now.duration(to: $0)) } ?? 0
            if newValue != nil && deadlineNanoseconds == 0 { deadlineNanoseconds = 1 }
        }
    }
    /// The deadline in `MonotonicClock` nanoseconds, 0 for none: a context is made per call,
    /// and an optional `ContinuousClock.Instant` costs value-witness calls to make and drop.
    var deadlineNanoseconds: UInt64 = 0
    /// Who the peer said it is in its handshake, and its pid.
    public var peerName: String
    public var peerPID: UInt32

    public init(method: String, metadata: Metadata = [:], deadline: ContinuousClock.Instant? = nil, peerName: String = "", peerPID: UInt32 = 0) {
        self.method = method
        self.metadata = metadata
        self.peerName = peerName
        self.peerPID = peerPID
        self.deadline = deadline
    }

    /// The connection's per-call initializer: the deadline as `MonotonicClock` nanoseconds.
    init(method: String, metadata: Metadata, deadlineNanoseconds: UInt64, peerName: String, peerPID: UInt32) {
        self.method = method
        self.metadata = metadata
        self.peerName = peerName
        self.peerPID = peerPID
        self.deadlineNanoseconds = deadlineNanoseconds
    }
}

/// The request messages of a client-streaming or bidirectional call, as they arrive.
public struct RequestStream<Request: MessageCodable>: AsyncSequence, Sendable {
    public typealias Element = Request
    let inbox: MessageInbox

    public struct AsyncIterator: AsyncIteratorProtocol {
        let inbox: MessageInbox
        public mutating func next() async throws -> Request? {
            guard let bytes = try await inbox.next() else { return nil }
            return try Request(serializedBytes: bytes)
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(inbox: inbox) }
}

/// Sends the response messages of a server-streaming or bidirectional call.
public struct ResponseWriter<Response: MessageCodable>: Sendable {
    let call: ServerCall

    /// Sends one message. Throws CANCELLED once the client cancelled or the deadline passed,
    /// RESOURCE_EXHAUSTED when the message exceeds the client's max frame size.
    nonisolated(nonsending) public func write(_ message: Response) async throws {
        try await call.sendStreamed(message.serializedBytes())  // [UInt8]: no copy
    }
}
