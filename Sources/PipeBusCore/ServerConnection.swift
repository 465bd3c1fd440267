import Synchronization

/// The server side of one connection: reads frames, runs handlers, writes responses.
///
/// `run()` owns the calling thread (one per connection) and is also the connection's
/// `TaskExecutor`: inline handlers run right where their request was read, and async handlers
/// run as tasks on this same thread, so a call costs no thread hop (DESIGN §5). Responses
/// produced while a batch of requests is handled leave in one `write`.
public final class ServerConnection: TaskExecutor, @unchecked Sendable {
    public struct Configuration: Sendable {
        /// The largest frame body this side accepts.
        public var maxFrameSize = FrameHeader.defaultMaxFrameSize
        /// Compression of outgoing frames (used only if the client's HELLO says it can decode
        /// LZ4). On by default: PROTOCOL.md §3 has senders compress large bodies when that makes
        /// them smaller, and below the threshold it costs one comparison per frame.
        public var compression = CompressionPolicy.enabled
        /// How long a client may take to complete the handshake.
        public var handshakeTimeout: Duration = .seconds(2)
        /// How long a write may wait for a client that does not read before it is cut off.
        public var writeTimeout: Duration = .seconds(2)
        /// Messages buffered per stream before it fails with RESOURCE_EXHAUSTED.
        public var inboxCapacity = 1024
        public var maxConcurrentStreams = 1024
        /// Output buffered by a streaming handler before it is flushed without waiting for the
        /// end of the loop iteration.
        public var flushThreshold = 64 * 1024
        /// Name sent in the handshake.
        public var serverName = "pipebus"

        public init() {}
        public static var defaults: Configuration { Configuration() }
    }

    /// Why a connection ended. `metricReason` is the `reason` label of
    /// `pipe_connection_errors_total` (nil for an orderly end).
    public enum CloseReason: Hashable, Sendable, CustomStringConvertible {
        case peerClosed
        case shutdown
        case handshakeTimeout
        case protocolError(String)
        case badFrame(String)
        case slowConsumer
        case ioError(String)

        public var metricReason: String? {
            switch self {
            case .peerClosed, .shutdown: nil
            case .handshakeTimeout: "handshake_timeout"
            case .protocolError: "protocol_error"
            case .badFrame: "bad_frame"
            case .slowConsumer: "slow_consumer"
            case .ioError: "io_error"
            }
        }

        public var description: String {
            switch self {
            case .peerClosed: "peer closed the connection"
            case .shutdown: "server shut down"
            case .handshakeTimeout: "no handshake in time"
            case .protocolError(let detail): "protocol error: \(detail)"
            case .badFrame(let detail): "bad frame: \(detail)"
            case .slowConsumer: "client did not read its responses in time"
            case .ioError(let detail): "I/O error: \(detail)"
            }
        }
    }

    private struct StreamEntry {
        let call: ServerCall
        var deadline: ContinuousClock.Instant?
        var task: Task<Void, Never>?
    }

    private struct Pending {
        var jobs: [UnownedJob] = []
        var actions: [@Sendable (ServerConnection) -> Void] = []
    }

    private let io: any ConnectionIO
    private let router: Router
    private let configuration: Configuration
    private let metrics: TransportMetrics?
    private let pending = Mutex(Pending())
    // The loop's handshake with other threads, without the lock on its every turn: a sender
    // appends under the lock, sets `hasPending`, then reads `sleeping`; the loop sets
    // `sleeping`, then reads `hasPending`. Sequentially consistent, so one sees the other.
    private let hasPending = Atomic<Bool>(false)
    private let sleeping = Atomic<Bool>(false)

    // Touched only on the loop thread, so never by two accesses at once: the runtime's
    // exclusivity checks (a thread-local lookup per access, ~6% of a call's user time)
    // are turned off for them.
    @exclusivity(unchecked) private var decoder: FrameDecoder
    @exclusivity(unchecked) private var encoder: FrameEncoder
    @exclusivity(unchecked) private var outBuffer: [UInt8] = []
    @exclusivity(unchecked) private var outFrames = 0
    @exclusivity(unchecked) private var streams: [UInt32: StreamEntry] = [:]
    @exclusivity(unchecked) private var streamsWithDeadline = 0
    @exclusivity(unchecked) private var liveTasks = 0
    @exclusivity(unchecked) private var peer: Hello?
    @exclusivity(unchecked) private var highestStreamID: UInt32 = 0
    @exclusivity(unchecked) private var draining = false
    @exclusivity(unchecked) private var closeReason: CloseReason?
    @exclusivity(unchecked) private var loopThreadID: UInt = 0
    /// The last method opened and its handler: most connections call one or two methods, so
    /// this spares a new string and a dictionary lookup per call.
    @exclusivity(unchecked) private var lastMethod: (name: String, handler: Router.Handler)?

    public init(io: any ConnectionIO, router: Router, configuration: Configuration = .defaults, metrics: TransportMetrics? = nil) {
        self.io = io
        self.router = router
        self.configuration = configuration
        self.metrics = metrics
        self.decoder = FrameDecoder(maxFrameSize: configuration.maxFrameSize)
        self.encoder = FrameEncoder(maxFrameSize: configuration.maxFrameSize)
    }

    /// What the client said in its handshake, once it has.
    public var peerHello: Hello? { peer }

    /// Serves the connection on the calling thread until it ends; returns why it ended.
    public func run() -> CloseReason {
        loopThreadID = OSThread.currentID
        metrics?.connectionOpened()
        defer { metrics?.connectionClosed() }
        let hello = Hello(
            maxFrameSize: UInt32(configuration.maxFrameSize),
            compression: true,
            peerName: configuration.serverName,
            pid: currentPID()
        )
        queueFrame(Envelope(streamID: 0, kind: .helloAck, hello: hello))
        let handshakeDeadline = ContinuousClock.now + configuration.handshakeTimeout
        while closeReason == nil {
            runPending()
            flush()
            if closeReason != nil { break }
            if draining && streams.isEmpty {
                closeReason = .shutdown
                break
            }
            if !prepareToSleep() { continue }
            let outcome: ReadOutcome
            // Once the handshake is done and no call has a deadline, a read waits without a
            // limit; the common case works nothing out (an Instant is costly to pass around).
            let timeout = peer != nil && streamsWithDeadline == 0 ? nil : readTimeout(handshakeDeadline: handshakeDeadline)
            do {
                outcome = try io.read(into: &decoder, timeout: timeout)
            } catch {
                closeReason = .ioError("\(error)")
                break
            }
            sleeping.store(false, ordering: .sequentiallyConsistent)
            handleRead(outcome)
            expireDeadlines()
            if peer == nil, closeReason == nil, ContinuousClock.now >= handshakeDeadline {
                closeReason = .handshakeTimeout
            }
        }
        tearDown()
        let reason = closeReason ?? .shutdown
        if let metricReason = reason.metricReason { metrics?.recordConnectionError(reason: metricReason) }
        return reason
    }

    private func handleRead(_ outcome: ReadOutcome) {
        switch outcome {
        case .bytes(let count):
            metrics?.recordReceived(frames: processFrames(), bytes: count)
        case .endOfStream where closeReason == nil:
            // A stream that ends inside a frame is corrupt, not an orderly close.
            let partial = decoder.bufferedByteCount
            closeReason = partial > 0 ? .badFrame("the stream ended inside a frame (\(partial) bytes of it)") : .peerClosed
        case .endOfStream, .timedOut, .woken:
            break
        }
    }

    /// Stops the connection: gracefully, by sending GOAWAY and letting calls in flight finish
    /// (new ones get UNAVAILABLE); or at once, cancelling them. Callable from any thread.
    public func shutdown(graceful: Bool, reason: String = "server is shutting down") {
        perform { connection in
            if !connection.draining {
                connection.draining = true
                connection.queueFrame(
                    Envelope(streamID: connection.highestStreamID, kind: .goAway, status: Status(code: .unavailable, message: reason))
                )
            }
            if !graceful {
                for id in Array(connection.streams.keys) { connection.endStream(id, status: nil) }
                connection.closeReason = connection.closeReason ?? .shutdown
            }
        }
    }

    // MARK: TaskExecutor

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        pending.withLock { $0.jobs.append(job) }
        hasPending.store(true, ordering: .sequentiallyConsistent)
        if sleeping.load(ordering: .sequentiallyConsistent) { io.wake() }
    }

    /// Runs `action` on the loop thread: now if called there, otherwise on its next turn.
    private func perform(_ action: @escaping @Sendable (ServerConnection) -> Void) {
        if OSThread.currentID == loopThreadID {
            action(self)
            return
        }
        pending.withLock { $0.actions.append(action) }
        hasPending.store(true, ordering: .sequentiallyConsistent)
        if sleeping.load(ordering: .sequentiallyConsistent) { io.wake() }
    }

    /// Marks the loop as about to block; false if work arrived first.
    private func prepareToSleep() -> Bool {
        sleeping.store(true, ordering: .sequentiallyConsistent)
        if hasPending.load(ordering: .sequentiallyConsistent) {
            sleeping.store(false, ordering: .sequentiallyConsistent)
            return false
        }
        return true
    }

    private func runPending() {
        // A stale `true` costs one empty turn; a `false` read before a sender's store is
        // caught by `prepareToSleep`.
        while hasPending.load(ordering: .sequentiallyConsistent) {
            hasPending.store(false, ordering: .sequentiallyConsistent)
            // Taken out whole (not copied and cleared, which would allocate every turn).
            let (jobs, actions) = pending.withLock { pending -> ([UnownedJob], [@Sendable (ServerConnection) -> Void]) in
                if pending.jobs.isEmpty && pending.actions.isEmpty { return ([], []) }
                var jobs: [UnownedJob] = []
                var actions: [@Sendable (ServerConnection) -> Void] = []
                swap(&jobs, &pending.jobs)
                swap(&actions, &pending.actions)
                return (jobs, actions)
            }
            if jobs.isEmpty && actions.isEmpty { return }
            for action in actions { action(self) }
            for job in jobs { job.runSynchronously(on: asUnownedTaskExecutor()) }
        }
    }

    private func readTimeout(handshakeDeadline: ContinuousClock.Instant) -> Duration? {
        var nearest: ContinuousClock.Instant? = peer == nil ? handshakeDeadline : nil
        if streamsWithDeadline > 0 {
            for entry in streams.values {
                if let deadline = entry.deadline, nearest.map({ deadline < $0 }) ?? true { nearest = deadline }
            }
        }
        guard let nearest else { return nil }
        return max(.zero, ContinuousClock.now.duration(to: nearest))
    }

    // MARK: Inbound

    /// Handles the whole frames read; how many.
    private func processFrames() -> Int {
        var frames = 0
        while closeReason == nil {
            enum Decoded { case envelope(Envelope), undecodable(RPCError), handled }
            let decoded: Decoded?
            do {
                decoded = try decoder.withNextFrameBody { body, _ -> Decoded in
                    let fields: EnvelopeFields
                    do {
                        fields = try Envelope.fields(of: body)
                    } catch let error as RPCError {
                        return .undecodable(error)
                    }
                    if fields.kind == Envelope.Kind.open.rawValue && peer != nil {
                        // Opened while the frame is at hand: an inline handler reads its
                        // request where it was read, uncopied. (Touches no `decoder`.)
                        open(fields)
                        return .handled
                    }
                    return .envelope(fields.envelope(copyingMessage: true))
                }
            } catch {
                closeReason = .badFrame("\(error)")
                return frames
            }
            guard let decoded else { break }  // no whole frame left
            frames += 1
            switch decoded {
            case .envelope(let envelope): handle(envelope)
            case .undecodable(let error): closeReason = .protocolError("undecodable envelope: \(error.message)")
            case .handled: break
            }
        }
        return frames
    }

    private func handle(_ envelope: Envelope) {
        guard peer != nil || envelope.kind == .hello else {
            closeReason = .protocolError("\(envelope.kind) before the handshake")
            return
        }
        switch envelope.kind {
        case .hello:
            guard let hello = envelope.hello else {
                closeReason = .protocolError("a HELLO without a handshake")
                return
            }
            // The version first, even on a repeated HELLO: a client of another version is told
            // why (PROTOCOL.md §2) rather than seeing only end of file.
            if let refusal = hello.versionRefusal {
                queueFrame(Envelope(streamID: highestStreamID, kind: .goAway, status: refusal))
                // Written now: a connection closed for a protocol error sends nothing it queued.
                flush()
                closeReason = closeReason ?? .protocolError("unsupported protocol version \(hello.protocolVersion)")
                return
            }
            guard peer == nil else {
                closeReason = .protocolError("a second HELLO")
                return
            }
            peer = hello
            encoder.maxFrameSize = min(Int(hello.maxFrameSize), FrameHeader.defaultMaxFrameSize * 16)
            encoder.compression = hello.compression ? configuration.compression : .disabled
        case .ping:
            queueFrame(Envelope(streamID: 0, kind: .pong, pingData: envelope.pingData))
        case .pong:
            break
        case .open:
            open(envelope, borrowedMessage: nil)
        case .message:
            guard let entry = streams[envelope.streamID] else { return }  // already ended
            if let message = envelope.message, !entry.call.inbox.deliver(message) {
                endStream(envelope.streamID, status: Status(code: .resourceExhausted, message: "more than \(configuration.inboxCapacity) request messages buffered"))
                return
            }
            if envelope.endStream { entry.call.inbox.finish() }
        case .cancel:
            if streams[envelope.streamID] != nil { endStream(envelope.streamID, status: nil) }
        default:
            closeReason = .protocolError("unexpected \(envelope.kind) from a client")
        }
    }

    /// Opens a stream from an OPEN's fields in the frame just read. The common call, a unary
    /// request to the method called last whose handler is inline, runs with no envelope built;
    /// any other OPEN goes through `open(_:borrowedMessage:)`.
    private func open(_ fields: EnvelopeFields) {
        let id = fields.streamID
        if fields.endStream, let request = fields.message, !draining, id % 2 == 1, id > highestStreamID,
            streams.count < configuration.maxConcurrentStreams, let lastMethod,
            Envelope.sameBytes(lastMethod.name, fields.method), case .inline(let body) = lastMethod.handler
        {
            highestStreamID = id
            let context = makeContext(method: lastMethod.name, metadata: fields.metadata, timeoutMicros: fields.timeoutMicros)
            return runInline(body, request: request, context: context, streamID: id)
        }
        open(fields.envelope(copyingMessage: false, knownMethod: lastMethod?.name), borrowedMessage: fields.message)
    }

    /// What a handler is told about a call just opened. The deadline is the OPEN's timeout
    /// (microseconds from receipt, clamped to ~290 years) in `MonotonicClock` nanoseconds.
    @inline(__always)
    private func makeContext(method: String, metadata: Metadata, timeoutMicros: UInt64) -> ServerContext {
        ServerContext(
            method: method,
            metadata: metadata,
            deadlineNanoseconds: timeoutMicros > 0 ? MonotonicClock.nanoseconds() &+ min(timeoutMicros, 1 << 53) &* 1_000 : 0,
            peerName: peer?.peerName ?? "",
            peerPID: peer?.pid ?? 0
        )
    }

    /// Opens a stream. `borrowedMessage`: the message, when the envelope does not own it (valid
    /// only during this call).
    private func open(_ envelope: Envelope, borrowedMessage: UnsafeRawBufferPointer?) {
        let id = envelope.streamID
        guard id % 2 == 1, id > highestStreamID else {
            closeReason = .protocolError("stream id \(id) is not odd and increasing (last \(highestStreamID))")
            return
        }
        highestStreamID = id
        if draining {
            return close(id, Status(code: .unavailable, message: "server is draining; retry on a new connection"))
        }
        if streams.count >= configuration.maxConcurrentStreams {
            return close(id, Status(code: .resourceExhausted, message: "more than \(configuration.maxConcurrentStreams) concurrent calls"))
        }
        let handler: Router.Handler
        if let lastMethod, lastMethod.name == envelope.method {
            handler = lastMethod.handler
        } else if let found = router.handler(for: envelope.method) {
            handler = found
            lastMethod = (envelope.method, found)
        } else {
            return close(id, Status(code: .unimplemented, message: "unknown method \(envelope.method)"))
        }
        let context = makeContext(method: envelope.method, metadata: envelope.metadata, timeoutMicros: envelope.timeoutMicros)
        if case .inline(let body) = handler, envelope.endStream {
            if let borrowedMessage {
                return runInline(body, request: borrowedMessage, context: context, streamID: id)
            }
            if let message = envelope.message {
                return message.withUnsafeBytes { runInline(body, request: $0, context: context, streamID: id) }
            }
        }
        var envelope = envelope
        if let borrowedMessage { envelope.message = Array(borrowedMessage) }
        let deadline = context.deadline
        switch handler {
        case .inline(let body):
            startTask(id, context: context, deadline: deadline, first: envelope) { call in
                let request = try await call.inbox.next() ?? []
                try await call.send(try request.withUnsafeBytes { try body($0, call.context) })
            }
        case .task(let body):
            startTask(id, context: context, deadline: deadline, first: envelope, body)
        }
    }

    private func runInline(
        _ body: (UnsafeRawBufferPointer, ServerContext) throws -> [UInt8],
        request: UnsafeRawBufferPointer,
        context: ServerContext,
        streamID: UInt32
    ) {
        do {
            let response = try body(request, context)
            if context.deadlineNanoseconds != 0 && MonotonicClock.nanoseconds() > context.deadlineNanoseconds {
                return close(streamID, Status(code: .deadlineExceeded, message: "deadline exceeded while handling \(context.method)"))
            }
            // Encoded from its fields: no envelope is built (the hot path's reply).
            queueFrame(orFail: streamID) { Envelope.serialize(streamID: streamID, kind: .close, endStream: true, message: response, into: &$0) }
        } catch {
            close(streamID, Self.status(for: error))
        }
    }

    private func startTask(
        _ id: UInt32,
        context: ServerContext,
        deadline: ContinuousClock.Instant?,
        first envelope: Envelope,
        _ body: @escaping @Sendable (ServerCall) async throws -> Void
    ) {
        let call = ServerCall(streamID: id, context: context, inboxCapacity: configuration.inboxCapacity, sink: .connection(self))
        if let message = envelope.message { _ = call.inbox.deliver(message) }
        if envelope.endStream { call.inbox.finish() }
        streams[id] = StreamEntry(call: call, deadline: deadline)
        if deadline != nil { streamsWithDeadline += 1 }
        liveTasks += 1
        // Tracked, not forgotten: the stream entry ends it (cancel, deadline, shutdown) and
        // tearDown() waits for every task to finish before the connection's thread returns.
        streams[id]?.task = Task(executorPreference: self) {
            let status: Status
            do {
                try await body(call)
                status = .ok
            } catch {
                status = Self.status(for: error)
            }
            self.perform { connection in
                connection.liveTasks -= 1
                // The task has finished: nothing to cancel (a cancel takes its status lock).
                if connection.streams.index(forKey: id) != nil, !call.hasEnded {
                    connection.endStream(id, status: status, cancellingTask: false)
                }
            }
        }
    }

    private static func status(for error: any Error) -> Status { Status(handlerError: error) }

    /// Ends a stream: tells the client `status` (nil: nothing, the client cancelled) and
    /// stops the handler.
    private func endStream(_ id: UInt32, status: Status?, cancellingTask: Bool = true) {
        guard let entry = streams.removeValue(forKey: id) else { return }
        if entry.deadline != nil { streamsWithDeadline -= 1 }
        entry.call.markEnded()
        if cancellingTask { entry.task?.cancel() }
        if let status { close(id, status) }
    }

    private func close(_ id: UInt32, _ status: Status) {
        queueFrame { Envelope.serialize(streamID: id, kind: .close, endStream: true, status: status, into: &$0) }
    }

    private func expireDeadlines() {
        guard streamsWithDeadline > 0 else { return }
        let now = ContinuousClock.now
        for (id, entry) in streams {
            if let deadline = entry.deadline, deadline <= now {
                endStream(id, status: Status(code: .deadlineExceeded, message: "deadline exceeded in \(entry.call.context.method)"))
            }
        }
    }

    // MARK: Outbound

    /// Called by `ServerCall.send`: a response message on a stream.
    func sendMessage(_ message: [UInt8], on id: UInt32) throws {
        guard OSThread.currentID == loopThreadID else {
            perform { connection in try? connection.sendMessage(message, on: id) }
            return
        }
        // `index(forKey:)`, not `streams[id]`: that copies the entry out (an optional Instant
        // in it costs value-witness calls), once per streamed message.
        guard streams.index(forKey: id) != nil, closeReason == nil else {
            throw RPCError(code: .cancelled, message: "the call has ended")
        }
        try encode { Envelope.serialize(streamID: id, kind: .message, message: message, into: &$0) }
        if outBuffer.count >= configuration.flushThreshold {
            flush()
            readWithoutWaiting()
        }
    }

    /// Takes in what the client sent meanwhile. A handler that streams without suspending keeps
    /// the loop from reading; without this, a CANCEL of its stream (and every other call on the
    /// connection) would wait until it ran out of messages, which for an endless stream is never.
    private func readWithoutWaiting() {
        guard closeReason == nil else { return }
        do {
            handleRead(try io.read(into: &decoder, timeout: .zero))
        } catch {
            closeReason = .ioError("\(error)")
        }
    }

    private func encode(_ envelope: Envelope) throws {
        try encode { envelope.serialize(into: &$0) }
    }

    /// Appends one frame whose body `writeBody` encodes.
    private func encode(_ writeBody: (inout [UInt8]) -> Void) throws {
        try encoder.appendFrame(to: &outBuffer, writeBody: writeBody)
        outFrames += 1
    }

    /// Queues an envelope for the next flush; a response too large for the client fails its call.
    private func queueFrame(_ envelope: Envelope, orFail streamID: UInt32 = 0) {
        queueFrame(orFail: streamID) { envelope.serialize(into: &$0) }
    }

    /// Queues the frame `writeBody` encodes; if it is too large for the client, stream
    /// `streamID` fails instead (or, on stream 0, the connection).
    private func queueFrame(orFail streamID: UInt32 = 0, _ writeBody: (inout [UInt8]) -> Void) {
        do {
            try encode(writeBody)
        } catch let error as RPCError where streamID != 0 {
            close(streamID, error.status)
        } catch {
            closeReason = closeReason ?? .protocolError("cannot encode a frame: \(error)")
        }
    }

    private func flush() {
        guard !outBuffer.isEmpty else { return }
        defer {
            outBuffer.removeAll(keepingCapacity: outBuffer.count <= 1024 * 1024)
            outFrames = 0
        }
        guard closeReason == nil || closeReason == .shutdown else { return }
        do {
            try outBuffer.withUnsafeBytes { try io.write($0, timeout: configuration.writeTimeout) }
            metrics?.recordSent(frames: outFrames, bytes: outBuffer.count)
        } catch let error as RPCError where error.code == .deadlineExceeded {
            closeReason = .slowConsumer
        } catch {
            closeReason = closeReason ?? .peerClosed
        }
    }

    // MARK: Teardown

    /// Cancels what is left, lets the tasks finish on this thread, and closes the I/O.
    private func tearDown() {
        for id in Array(streams.keys) { endStream(id, status: nil) }
        if closeReason == .shutdown { flush() }
        io.close()
        // Handler tasks prefer this executor: keep running their jobs until they are done, so
        // none is left suspended on a thread that no longer runs. Bounded by a grace period.
        let giveUp = ContinuousClock.now + .seconds(5)
        while liveTasks > 0 && ContinuousClock.now < giveUp {
            runPending()
            outBuffer.removeAll(keepingCapacity: true)
            if liveTasks > 0 { usleepBriefly() }
        }
    }
}
