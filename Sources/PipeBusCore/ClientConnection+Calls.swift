/// The four kinds of call, as a caller makes them.
extension ClientConnection {
    /// A unary call: one request, one response. The request leaves in a single frame (OPEN with
    /// the message and END_STREAM), and a quick handler answers in a single frame.
    ///
    /// Inlinable so that it is specialized where it is called: for `[UInt8]` payloads the
    /// conversions to and from bytes then vanish, and the call runs no generic code.
    @inlinable
    public func unary<Request: MessageCodable, Response: MessageCodable>(
        _ method: MethodDescriptor,
        request: Request,
        metadata: Metadata = Metadata(),
        timeout: Duration? = nil,
        responseType: Response.Type = Response.self
    ) async throws -> Response {
        try Response(serializedBytes: try await unaryCall(method, request: request.serializedBytes(), metadata: metadata, timeout: timeout))
    }

    /// The bytes of a unary call's one response.
    @usableFromInline
    func unaryCall(_ method: MethodDescriptor, request: [UInt8], metadata: Metadata, timeout: Duration?) async throws -> [UInt8] {
        let id = try open(method, metadata: metadata, timeout: timeout, firstMessage: request, endStream: true)
        // The stream is forgotten as its end is taken (one lock turn fewer); only a call that
        // leaves before its end (cancelled, failed, or a protocol error) releases it here.
        var released = false
        defer { if !released { releaseStream(id) } }
        var response: [UInt8]?
        while true {
            // The reply is usually read right here by this caller: no async call for it.
            let inbound: Inbound
            if let now = try nextInboundWithoutWaiting(id, releasingAtEnd: true) {
                inbound = now
            } else {
                inbound = try await nextInbound(id, releasingAtEnd: true)
            }
            switch inbound {
            case .message(let bytes):
                if response != nil { throw extraResponse(method, id) }
                response = bytes
            case .final(let bytes, let status, _):
                released = true
                if response != nil { throw extraResponse(method, id) }
                guard status.code == .ok else { throw RPCError(code: status.code, message: status.message) }
                return bytes
            case .end(let status, _):
                released = true
                guard status.code == .ok else { throw RPCError(code: status.code, message: status.message) }
                guard let response else {
                    throw RPCError(code: .internal, message: "\(method): the server ended the call without a response")
                }
                return response
            }
        }
    }

    private func extraResponse(_ method: MethodDescriptor, _ id: UInt32) -> RPCError {
        cancelStream(id, status: Status(code: .internal, message: "more than one response to a unary call"))
        return RPCError(code: .internal, message: "\(method): the server sent more than one response to a unary call")
    }

    /// A server-streaming call: one request, then `body` reads the responses. The call is
    /// cancelled if `body` returns before the server ends it.
    public func withServerStreaming<Request: MessageCodable, Response: MessageCodable, Result>(
        _ method: MethodDescriptor,
        request: Request,
        metadata: Metadata = Metadata(),
        timeout: Duration? = nil,
        responseType: Response.Type = Response.self,
        _ body: (ResponseStream<Response>) async throws -> Result
    ) async throws -> Result {
        let id = try open(method, metadata: metadata, timeout: timeout, firstMessage: request.serializedBytes(), endStream: true)
        defer { finishCall(id) }
        return try await body(ResponseStream(connection: self, streamID: id))
    }

    /// A client-streaming call: `body` sends requests; then the one response is returned.
    public func withClientStreaming<Request: MessageCodable, Response: MessageCodable>(
        _ method: MethodDescriptor,
        metadata: Metadata = Metadata(),
        timeout: Duration? = nil,
        requestType: Request.Type = Request.self,
        responseType: Response.Type = Response.self,
        _ body: (RequestSender<Request>) async throws -> Void
    ) async throws -> Response {
        let id = try open(method, metadata: metadata, timeout: timeout, firstMessage: nil, endStream: false)
        defer { finishCall(id) }
        let sender = RequestSender<Request>(connection: self, streamID: id)
        try await body(sender)
        try sender.finish()
        var response: Response?
        for try await message in ResponseStream<Response>(connection: self, streamID: id) {
            response = message
        }
        guard let response else {
            throw RPCError(code: .internal, message: "\(method): the server ended the call without a response")
        }
        return response
    }

    /// A bidirectional call: `body` sends and reads as it likes; the call is cancelled if
    /// `body` returns before the server ends it.
    public func withBidirectional<Request: MessageCodable, Response: MessageCodable, Result>(
        _ method: MethodDescriptor,
        metadata: Metadata = Metadata(),
        timeout: Duration? = nil,
        requestType: Request.Type = Request.self,
        responseType: Response.Type = Response.self,
        _ body: (RequestSender<Request>, ResponseStream<Response>) async throws -> Result
    ) async throws -> Result {
        let id = try open(method, metadata: metadata, timeout: timeout, firstMessage: nil, endStream: false)
        defer { finishCall(id) }
        return try await body(RequestSender(connection: self, streamID: id), ResponseStream(connection: self, streamID: id))
    }

    private func open(
        _ method: MethodDescriptor,
        metadata: Metadata,
        timeout: Duration?,
        firstMessage: [UInt8]?,
        endStream: Bool
    ) throws -> UInt32 {
        let deadline = timeout.map { MonotonicClock.nanoseconds() &+ max(1, MonotonicClock.nanoseconds($0)) } ?? 0
        let micros = timeout.map { Self.microseconds($0) } ?? 0
        return try openStream(deadline: deadline) { id, buffer in
            Envelope.serialize(
                streamID: id,
                kind: .open,
                endStream: endStream,
                method: method.fullName,
                metadata: metadata,
                timeoutMicros: micros,
                message: firstMessage,
                into: &buffer
            )
        }
    }

    private func finishCall(_ id: UInt32) {
        cancelStream(id, status: Status(code: .cancelled, message: "the caller stopped reading"))
        releaseStream(id)
    }

    static func microseconds(_ duration: Duration) -> UInt64 {
        let (seconds, attoseconds) = duration.components
        guard seconds >= 0 else { return 1 }
        return max(1, UInt64(seconds) * 1_000_000 + UInt64(attoseconds / 1_000_000_000_000))
    }
}

/// The responses of a call, as they arrive. Ends when the server closes the call with OK;
/// throws the call's status otherwise.
public struct ResponseStream<Response: MessageCodable>: AsyncSequence, Sendable {
    public typealias Element = Response
    let source: Source

    /// Where the response messages come from.
    enum Source: Sendable {
        /// A pipe connection's stream.
        case connection(ClientConnection, streamID: UInt32)
        /// Another transport's call (the gRPC bridge's client): its messages, ending as it ends.
        case messages(AsyncThrowingStream<[UInt8], any Error>)
    }

    init(connection: ClientConnection, streamID: UInt32) {
        source = .connection(connection, streamID: streamID)
    }

    /// The responses of a call made over another transport; `messages` throws the call's
    /// error (an `RPCError`) when it does not end with OK.
    public init(messages: AsyncThrowingStream<[UInt8], any Error>) {
        source = .messages(messages)
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        // Two optionals rather than an enum: the pipe's case reads its stored properties as the
        // single-transport iterator did (a `switch` over an enum payload copied the connection
        // out per message, and 64 B streams lost a fifth of their rate).
        let connection: ClientConnection?
        let streamID: UInt32
        var messages: AsyncThrowingStream<[UInt8], any Error>.AsyncIterator?
        var finished = false
        /// The status that came with the last message (a CLOSE carrying it), given out next.
        var pendingEnd: Status?

        public mutating func next() async throws -> Response? {
            guard !finished else { return nil }
            if let status = pendingEnd { return try end(status) }
            if let connection {
                // What a read already queued is taken with no async call (as a unary reply is):
                // a 64 B stream brings hundreds of messages a read, and an async call each cost a
                // hop to the generic executor.
                let inbound: ClientConnection.Inbound
                if let queued = try connection.nextInboundWithoutWaiting(streamID, releasingAtEnd: false) {
                    inbound = queued
                } else {
                    inbound = try await connection.nextInbound(streamID)
                }
                switch inbound {
                case .message(let bytes):
                    return try Response(serializedBytes: bytes)  // [UInt8]: no copy
                case .final(let bytes, let status, _):
                    pendingEnd = status
                    return try Response(serializedBytes: bytes)
                case .end(let status, _):
                    return try end(status)
                }
            }
            guard let bytes = try await messages?.next() else { return try end(.ok) }
            return try Response(serializedBytes: bytes)
        }

        private mutating func end(_ status: Status) throws -> Response? {
            finished = true
            guard status.code == .ok else { throw RPCError(code: status.code, message: status.message) }
            return nil
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        switch source {
        case .connection(let connection, let streamID): AsyncIterator(connection: connection, streamID: streamID)
        case .messages(let messages): AsyncIterator(connection: nil, streamID: 0, messages: messages.makeAsyncIterator())
        }
    }
}

/// Sends the requests of a client-streaming or bidirectional call.
public struct RequestSender<Request: MessageCodable>: Sendable {
    let sink: Sink

    enum Sink: Sendable {
        case connection(ClientConnection, streamID: UInt32)
        /// Another transport's request stream (the gRPC bridge's client), which sends them in order.
        case messages(AsyncStream<[UInt8]>.Continuation)
    }

    init(connection: ClientConnection, streamID: UInt32) {
        sink = .connection(connection, streamID: streamID)
    }

    /// Requests for a call made over another transport: each message is yielded to `messages`,
    /// which `finish()` ends.
    public init(messages: AsyncStream<[UInt8]>.Continuation) {
        sink = .messages(messages)
    }

    public func send(_ message: Request) throws {
        switch sink {
        case .connection(let connection, let streamID):
            try connection.send([Envelope(streamID: streamID, kind: .message, message: message.serializedBytes())])
        case .messages(let continuation):
            guard case .enqueued = continuation.yield(message.serializedBytes()) else {
                throw RPCError(code: .cancelled, message: "the call has ended")
            }
        }
    }

    /// Half-closes the call: the server sees the end of the requests.
    public func finish() throws {
        switch sink {
        case .connection(let connection, let streamID):
            try connection.send([Envelope(streamID: streamID, kind: .message, endStream: true)])
        case .messages(let continuation):
            continuation.finish()
        }
    }
}
