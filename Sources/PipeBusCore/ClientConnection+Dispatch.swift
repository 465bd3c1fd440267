/// What arrives from the server, delivered to the calls it is for: replies and streamed
/// messages to their inboxes, pings answered, GOAWAY and expired deadlines turned into ends.
/// Run by whoever holds the reading role (`ClientConnection.lead` or the reader thread).
extension ClientConnection {
    /// Dispatches the whole frames read; how many, or -1 when a corrupt one failed the connection.
    func dispatchFrames() -> Int {
        var frames = 0
        while true {
            let dispatched: Bool?
            do {
                // Dispatched while the frame is at hand (dispatch touches no decoder).
                dispatched = try reader.decoder.withNextFrameBody { body, _ -> Bool in
                    let fields = try Envelope.fields(of: body)
                    let kind = Envelope.Kind(rawValue: fields.kind)
                    if (kind == .close || kind == .message) && fields.isPlain {
                        // A reply or a streamed message: delivered with no envelope built.
                        deliver(
                            on: fields.streamID,
                            closing: kind == .close,
                            message: fields.message.map { Array($0) },
                            status: Status(code: StatusCode(rawValue: fields.statusCode)),
                            trailers: Metadata()
                        )
                    } else {
                        dispatch(fields.envelope(copyingMessage: true))
                    }
                    return true
                }
            } catch {
                metrics?.recordConnectionError(reason: "bad_frame")
                fail(RPCError(code: .internal, message: "corrupt frame from the server: \(error)"))
                return -1
            }
            guard dispatched != nil else { return frames }
            frames += 1
        }
    }

    /// Queues a MESSAGE's or CLOSE's content for its call and wakes the caller if it waits.
    private func deliver(on streamID: UInt32, closing: Bool, message: [UInt8]?, status: Status, trailers: Metadata) {
        var waiter: UnsafeContinuation<Wake, Never>?
        var overflow = false
        state.withLock { state in
            guard let stream = state.streams[streamID], !stream.ended else {
                state.droppedFrames &+= 1  // for `readerTurn`, reading on after a cancel
                return
            }
            if message != nil && stream.items.count - stream.head >= configuration.inboxCapacity {
                overflow = true
                return
            }
            if closing {
                if let message {
                    stream.items.append(.final(message, status, trailers))
                } else {
                    stream.items.append(.end(status, trailers))
                }
                stream.ended = true
            } else if let message {
                stream.items.append(.message(message))
            }
            waiter = stream.waiter
            stream.waiter = nil
        }
        waiter?.resume(returning: .check)
        if overflow {
            cancelStream(streamID, status: Status(code: .resourceExhausted, message: "more than \(configuration.inboxCapacity) responses buffered unread"))
        }
    }

    private func dispatch(_ envelope: Envelope) {
        switch envelope.kind {
        case .message, .close:
            deliver(on: envelope.streamID, closing: envelope.kind == .close, message: envelope.message, status: envelope.status, trailers: envelope.metadata)
        case .pong:
            let id = UInt32(truncatingIfNeeded: envelope.pingData)
            let waiter = state.withLock { state -> UnsafeContinuation<Wake, Never>? in
                guard let stream = state.streams[id] else { return nil }
                stream.items.append(.end(.ok, [:]))
                stream.ended = true
                let waiter = stream.waiter
                stream.waiter = nil
                return waiter
            }
            waiter?.resume(returning: .check)
        case .ping:
            try? send([Envelope(streamID: 0, kind: .pong, pingData: envelope.pingData)])
        case .goAway:
            let refused = state.withLock { state -> [UnsafeContinuation<Wake, Never>] in
                state.goAwayAfter = envelope.streamID
                var refused: [UnsafeContinuation<Wake, Never>] = []
                for (id, stream) in state.streams where id % 2 == 1 && id > envelope.streamID && !stream.ended {
                    stream.items.append(.end(Status(code: .unavailable, message: "server is draining: \(envelope.status.message)"), [:]))
                    stream.ended = true
                    if let waiter = stream.waiter { refused.append(waiter) }
                    stream.waiter = nil
                }
                return refused
            }
            for waiter in refused { waiter.resume(returning: .check) }
        default:
            break
        }
    }

    func expireDeadlines() {
        guard streamsWithDeadline.load(ordering: .relaxed) > 0 else { return }
        let now = MonotonicClock.nanoseconds()
        let expired = state.withLock { state in
            state.streams.compactMap { id, stream in !stream.ended && stream.deadline != 0 && stream.deadline <= now ? id : nil }
        }
        for id in expired {
            cancelStream(id, status: Status(code: .deadlineExceeded, message: "deadline exceeded"))
        }
    }
}
