import Synchronization
internal import CPipeBusShim

/// The client side of one connection: calls multiplexed by stream id.
///
/// Nobody reads the connection in the background while calls are quick. A caller that is
/// waiting for its reply and finds no one reading becomes the reader (the leader): it blocks in
/// `read` on its own thread, hands any frames for other calls to them, and when its own reply
/// has arrived passes the reading role to another waiting caller. This keeps a unary round trip
/// free of thread hops (DESIGN §5: 1.03× raw C, against 1.75–2.1× for a reader thread waking
/// the caller). A leader blocks at most `leaderBudget`; a reply that takes longer is awaited
/// through a reader thread, so the cooperative pool is never held for long.
public final class ClientConnection: Sendable {
    public struct Configuration: Sendable {
        /// The largest frame body this side accepts.
        public var maxFrameSize = FrameHeader.defaultMaxFrameSize
        /// Compression of outgoing frames (used only if the server can decode LZ4).
        public var compression = CompressionPolicy.disabled
        /// How long a caller may block reading for its reply before a thread takes over.
        public var leaderBudget: Duration = .milliseconds(5)
        /// How long a write may wait for a server that does not read.
        public var writeTimeout: Duration = .seconds(5)
        /// Messages buffered per stream before the call fails with RESOURCE_EXHAUSTED.
        public var inboxCapacity = 4096
        /// Name sent in the handshake, for the server's logs.
        public var clientName = "pipebus-client"

        public init() {}
        public static var defaults: Configuration { Configuration() }
    }

    /// What arrives for one call.
    enum Inbound: Sendable {
        case message([UInt8])
        case end(Status, Metadata)
        /// The last message and the end together: a CLOSE that carries a message (a unary
        /// reply), taken in one turn of the lock.
        case final([UInt8], Status, Metadata)

        var isEnd: Bool {
            if case .message = self { return false }
            return true
        }
    }

    enum Wake: Sendable {
        case check
        case lead
    }

    enum Role {
        case idle
        case leader
        case thread
    }

    /// One call's inbox. A class, so that appending to it under the lock never copies the
    /// queue (a struct in the dictionary would be copied on every frame).
    ///
    /// Touched only under `state`'s lock, so the runtime's exclusivity checks are off for it.
    final class StreamState {
        @exclusivity(unchecked) var items: [Inbound] = []
        @exclusivity(unchecked) var head = 0
        @exclusivity(unchecked) var waiter: UnsafeContinuation<Wake, Never>?
        /// `MonotonicClock` nanoseconds; 0 for none.
        @exclusivity(unchecked) var deadline: UInt64
        @exclusivity(unchecked) var ended = false

        init(deadline: UInt64) { self.deadline = deadline }

        /// Makes a released state like new, keeping the queue's capacity, for reuse.
        func reset(deadline: UInt64) {
            items.removeAll(keepingCapacity: items.capacity <= 64)
            head = 0
            waiter = nil
            self.deadline = deadline
            ended = false
        }

        func pop() -> Inbound? {
            guard head < items.count else { return nil }
            // One item (a unary reply): moved out, no copy, and the queue keeps its storage.
            if head == 0 && items.count == 1 { return items.removeLast() }
            let item = items[head]
            head += 1
            if head == items.count {
                items.removeAll(keepingCapacity: true)
                head = 0
            }
            return item
        }

        var hasItem: Bool { head < items.count }
    }

    struct State {
        var nextStreamID: UInt32 = 1
        var nextPingID: UInt32 = 2
        var streams = StreamTable<StreamState>()
        /// Released stream states kept for reuse: a call then allocates neither the state nor
        /// its queue.
        var spareStreams: [StreamState] = []
        var role = Role.idle
        var failure: RPCError?
        var goAwayAfter: UInt32?
        var readerThread: OSThread?
        var readerThreadStarted = false
        /// A stream was cancelled while the server may still be writing it: the reader thread
        /// reads on until its frames stop coming (see `readOnAfterCancel`).
        var readingOnAfterCancel = false
        /// Frames dropped because their stream had ended or was gone (a cancelled stream's).
        var droppedFrames = 0

        mutating func makeStream(deadline: UInt64) -> StreamState {
            guard let spare = spareStreams.popLast() else { return StreamState(deadline: deadline) }
            spare.reset(deadline: deadline)
            return spare
        }

        /// Forgets stream `id`, keeping its state for reuse; whether it had a deadline.
        mutating func removeStream(_ id: UInt32) -> Bool {
            guard let removed = streams.removeValue(forKey: id) else { return false }
            // Nothing else holds a stream's state: only `streams` refers to it, under the lock.
            if spareStreams.count < 8 && removed.waiter == nil { spareStreams.append(removed) }
            return removed.deadline != 0
        }

        /// The waiting caller to resume as the next leader, or nil with the role left idle.
        /// `leader`: the stream of the caller passing the role on, which waits for nothing.
        mutating func passRole(from leader: UInt32? = nil) -> UnsafeContinuation<Wake, Never>? {
            // The common case, one call at a time: nobody else to look for.
            let others = streams.count - (leader.map { streams[$0] == nil ? 0 : 1 } ?? 0)
            if failure == nil && others > 0 {
                for (_, stream) in streams where stream.waiter != nil && !stream.hasItem {
                    let waiter = stream.waiter
                    stream.waiter = nil
                    return waiter
                }
            }
            role = .idle
            return nil
        }
    }

    private struct Writer {
        var encoder: FrameEncoder
        /// Frames waiting for the sender that is writing (or for the next one).
        var buffer: [UInt8] = []
        /// How many frames `buffer` holds, counted out with it (`TransportMetrics.recordSent`).
        var bufferedFrames = 0
        var writing = false

        mutating func append(_ envelope: Envelope) throws {
            try encoder.appendFrame(to: &buffer) { envelope.serialize(into: &$0) }
        }
    }

    /// Reader-only state: touched only by whoever holds the reading role; the role passes
    /// through `state`'s lock, which orders the accesses.
    final class ReaderState: @unchecked Sendable {
        @exclusivity(unchecked) var decoder: FrameDecoder
        init(maxFrameSize: Int) { decoder = FrameDecoder(maxFrameSize: maxFrameSize) }
    }

    private let io: any ConnectionIO
    let configuration: Configuration
    let metrics: TransportMetrics?
    let state = Mutex(State())
    private let writer: Mutex<Writer>
    let reader: ReaderState
    let threadSignal = ConditionLock()
    /// Streams in `state` with a deadline: while none has one, the reader skips looking.
    let streamsWithDeadline = Atomic<Int>(0)
    private let leaderBudgetNanoseconds: UInt64
    /// What the server said in its handshake.
    public let serverHello: Hello

    /// Takes over a connection whose server handshake (HELLO_ACK) has been read, and sends
    /// this side's HELLO. `decoder` carries any bytes read past the handshake.
    public init(
        io: any ConnectionIO,
        serverHello: Hello,
        decoder: FrameDecoder? = nil,
        configuration: Configuration = .defaults,
        metrics: TransportMetrics? = nil
    ) throws {
        self.io = io
        self.configuration = configuration
        self.leaderBudgetNanoseconds = max(1, MonotonicClock.nanoseconds(configuration.leaderBudget))
        self.metrics = metrics
        self.serverHello = serverHello
        var encoder = FrameEncoder(maxFrameSize: Int(serverHello.maxFrameSize))
        encoder.compression = serverHello.compression ? configuration.compression : .disabled
        self.writer = Mutex(Writer(encoder: encoder))
        self.reader = ReaderState(maxFrameSize: configuration.maxFrameSize)
        if let decoder { reader.decoder = decoder }
        let hello = Hello(
            maxFrameSize: UInt32(configuration.maxFrameSize),
            compression: true,
            peerName: configuration.clientName,
            pid: currentPID()
        )
        try send([Envelope(streamID: 0, kind: .hello, hello: hello)])
    }

    /// Reads the server's handshake from a new connection (used by transports before `init`).
    public static func readServerHello(from io: any ConnectionIO, decoder: inout FrameDecoder, timeout: Duration) throws -> Hello {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let envelope = try decoder.withNextFrameBody({ body, _ in try Envelope(serializedBytes: body) }) {
                if envelope.kind == .goAway {
                    throw RPCError(code: .unavailable, message: "server refused the connection: \(envelope.status.message)")
                }
                guard envelope.kind == .helloAck, let hello = envelope.hello else {
                    throw RPCError(code: .internal, message: "expected HELLO_ACK from the server, got \(envelope.kind)")
                }
                guard hello.protocolVersion == Hello.currentProtocolVersion else {
                    throw RPCError(code: .failedPrecondition, message: "server speaks protocol \(hello.protocolVersion), this client \(Hello.currentProtocolVersion)")
                }
                return hello
            }
            let remaining = ContinuousClock.now.duration(to: deadline)
            guard remaining > .zero else {
                throw RPCError(code: .unavailable, message: "no handshake from the server within \(timeout)")
            }
            if try io.read(into: &decoder, timeout: remaining) == .endOfStream {
                throw RPCError(code: .unavailable, message: "server closed the connection during the handshake")
            }
        }
    }

    /// Whether the connection can still carry new calls.
    public var isUsable: Bool {
        state.withLock { $0.failure == nil && $0.goAwayAfter == nil }
    }

    /// Closes the connection; calls in flight fail with UNAVAILABLE.
    public func close() {
        fail(RPCError(code: .unavailable, message: "the connection was closed"))
    }

    deinit {
        io.close()
        guard let thread = state.withLock({ $0.readerThread }) else { return }
        // The reader thread itself may drop the last reference, between two turns.
        if thread.isCurrent { thread.detach() } else { thread.join() }
    }

    // MARK: Streams

    /// Opens a stream; its first envelope is encoded by `writeOpen` with the new stream id.
    func openStream(deadline: UInt64, _ writeOpen: (UInt32, inout [UInt8]) -> Void) throws -> UInt32 {
        // The id is taken while the OPEN is queued, under the writer's lock, so that OPENs leave
        // in id order: a server closes a connection whose stream ids go down (PROTOCOL.md §4).
        var id: UInt32?
        do {
            try send { writer in
                id = try state.withLock { state -> UInt32 in
                    if let failure = state.failure { throw failure }
                    if state.goAwayAfter != nil {
                        throw RPCError(code: .unavailable, message: "the server is draining this connection (GOAWAY)")
                    }
                    let id = state.nextStreamID
                    state.nextStreamID += 2
                    state.streams.insert(state.makeStream(deadline: deadline), for: id)
                    if deadline != 0 { streamsWithDeadline.add(1, ordering: .relaxed) }
                    return id
                }
                let id = id!
                try writer.encoder.appendFrame(to: &writer.buffer) { writeOpen(id, &$0) }
                return 1
            }
        } catch {
            if let id { releaseStream(id) }
            throw error
        }
        return id!
    }

    /// Stops a stream on this side (nothing more is delivered) and, unless it already ended,
    /// tells the server.
    func cancelStream(_ id: UInt32, status: Status) {
        let (wasOpen, waiter) = state.withLock { state -> (Bool, UnsafeContinuation<Wake, Never>?) in
            guard let stream = state.streams[id] else { return (false, nil) }
            let wasOpen = !stream.ended
            if wasOpen {
                stream.ended = true
                stream.items.append(.end(status, [:]))
            }
            let waiter = stream.waiter
            stream.waiter = nil
            return (wasOpen, waiter)
        }
        waiter?.resume(returning: .check)
        if wasOpen {
            try? send([Envelope(streamID: id, kind: .cancel, status: status)])
            readOnAfterCancel()
        }
    }

    /// Forgets a stream whose caller is done with it.
    func releaseStream(_ id: UInt32) {
        if state.withLock({ $0.removeStream(id) }) { streamsWithDeadline.subtract(1, ordering: .relaxed) }
    }

    /// Takes the next item of stream `id` (under the lock); with `releasing`, an end releases
    /// the stream as well.
    private func pop(_ id: UInt32, from state: inout State, releasing: Bool) -> Inbound? {
        guard let item = state.streams[id]?.pop() else { return nil }
        if releasing && item.isEnd && state.removeStream(id) { streamsWithDeadline.subtract(1, ordering: .relaxed) }
        return item
    }

    /// The next thing that arrives for stream `id`, reading the connection if no one else is.
    /// `releasingAtEnd`: the call is over at its end, so the stream is released as the end is
    /// taken (the caller must not release it again).
    func nextInbound(_ id: UInt32, releasingAtEnd: Bool = false) async throws -> Inbound {
        while true {
            if let item = try nextInboundWithoutWaiting(id, releasingAtEnd: releasingAtEnd) { return item }
            if await suspend(id) == .lead {
                pipebus_tsan_acquire(roleToken)
                if let item = lead(for: id, releasingAtEnd: releasingAtEnd) { return item }
            }
        }
    }

    /// `nextInbound` as far as it goes without suspending: what is queued for stream `id`, or
    /// what the caller reads as the leader; nil when another caller is reading (then wait).
    /// A synchronous function, so a call that reads its own reply makes no async call for it.
    func nextInboundWithoutWaiting(_ id: UInt32, releasingAtEnd: Bool) throws -> Inbound? {
        while true {
            enum Step { case item(Inbound), failed(RPCError), lead, wait }
            let step = state.withLock { state -> Step in
                if let item = pop(id, from: &state, releasing: releasingAtEnd) { return .item(item) }
                if let failure = state.failure { return .failed(failure) }
                if state.streams[id] == nil {
                    return .failed(RPCError(code: .internal, message: "stream \(id) is not open"))
                }
                if state.role == .idle {
                    state.role = .leader
                    return .lead
                }
                return .wait
            }
            switch step {
            case .item(let item): return item
            case .failed(let error): throw error
            case .lead:
                if let item = lead(for: id, releasingAtEnd: releasingAtEnd) { return item }
            case .wait:
                return nil
            }
        }
    }

    private func suspend(_ id: UInt32) async -> Wake {
        await withTaskCancellationHandler {
            await withUnsafeContinuation { (continuation: UnsafeContinuation<Wake, Never>) in
                let now = state.withLock { state -> Wake? in
                    guard let stream = state.streams[id], !stream.hasItem, state.failure == nil else { return .check }
                    if state.role == .idle {
                        state.role = .leader
                        return .lead
                    }
                    stream.waiter = continuation
                    return nil
                }
                if let now { continuation.resume(returning: now) }
            }
        } onCancel: {
            self.cancelStream(id, status: Status(code: .cancelled, message: "the call was cancelled by the client"))
        }
    }

    // MARK: Reading

    /// Reads as the leader until stream `id` has something (returned, taken off its queue),
    /// the budget runs out (a thread takes over), or the connection fails (nil: look again).
    /// Always leaves the role released or handed on.
    private func lead(for id: UInt32, releasingAtEnd: Bool) -> Inbound? {
        // The clock is read only once a read did not bring the reply, or a deadline is near:
        // a quick reply costs no clock reads here. (So the budget may run from the end of
        // the first read, not its start: at most twice the budget in all.)
        var giveUpAt: UInt64 = 0  // MonotonicClock nanoseconds; 0 until the clock is read
        while true {
            if Task.isCancelled {
                releaseRole()
                cancelStream(id, status: Status(code: .cancelled, message: "the call was cancelled by the client"))
                return nil
            }
            // The budget is soft (a few ms late is fine), a call's deadline is not.
            var timeout = configuration.leaderBudget
            var tolerance = configuration.leaderBudget
            if giveUpAt != 0 || streamsWithDeadline.load(ordering: .relaxed) > 0 {
                let now = MonotonicClock.nanoseconds()
                if giveUpAt == 0 { giveUpAt = now &+ leaderBudgetNanoseconds }
                guard giveUpAt > now else {
                    handOffToThread()
                    return nil
                }
                var remaining = giveUpAt - now
                if let deadline = nearestDeadlineNanoseconds(), deadline < giveUpAt {
                    remaining = deadline > now ? deadline - now : 0
                    tolerance = .zero
                }
                timeout = .nanoseconds(Int64(remaining))
            }
            guard let outcome = pump(timeout: timeout, tolerance: tolerance) else {
                releaseRole()
                return nil
            }
            switch releaseRoleIfDone(waitingFor: id, releasingAtEnd: releasingAtEnd) {
            case .item(let item): return item
            case .done: return nil
            case .notYet: break
            }
            if giveUpAt == 0 {
                if outcome == .timedOut && tolerance > .zero {
                    handOffToThread()  // the whole budget went by in that read
                    return nil
                }
                giveUpAt = MonotonicClock.nanoseconds() &+ leaderBudgetNanoseconds
            }
        }
    }

    private enum LeadStep {
        case item(Inbound)
        case done
        case notYet
    }

    /// If stream `id` has something (taken off its queue) or the connection failed, passes
    /// the reading role on; in one turn of the lock.
    private func releaseRoleIfDone(waitingFor id: UInt32, releasingAtEnd: Bool) -> LeadStep {
        let (step, next) = state.withLock { state -> (LeadStep, UnsafeContinuation<Wake, Never>?) in
            if let item = pop(id, from: &state, releasing: releasingAtEnd) { return (.item(item), state.passRole(from: id)) }
            guard state.failure != nil || state.streams[id] == nil else { return (.notYet, nil) }
            return (.done, state.passRole(from: id))
        }
        if let next { handRole(to: next) }
        return step
    }

    /// Gives the reading role to a waiting caller, or leaves it idle.
    private func releaseRole() {
        if let next = state.withLock({ $0.passRole() }) { handRole(to: next) }
    }

    /// Resumes the caller passed the reading role, which goes on to read with the decoder this
    /// thread used. The resume orders the two at run time; ThreadSanitizer does not see that
    /// (Swift 6.3.1), so the hand-off is shown to it too (a no-op in other builds).
    private func handRole(to next: UnsafeContinuation<Wake, Never>) {
        pipebus_tsan_release(roleToken)
        next.resume(returning: .lead)
    }

    /// What the TSan annotations of a role hand-off synchronize on.
    private var roleToken: UnsafeRawPointer { UnsafeRawPointer(Unmanaged.passUnretained(reader).toOpaque()) }

    /// The earliest deadline of a call still open, in `MonotonicClock` nanoseconds.
    private func nearestDeadlineNanoseconds() -> UInt64? {
        guard streamsWithDeadline.load(ordering: .relaxed) > 0 else { return nil }
        return state.withLock { state in
            state.streams.compactMap { $0.value.ended || $0.value.deadline == 0 ? nil : $0.value.deadline }.min()
        }
    }

    func nearestDeadline() -> ContinuousClock.Instant? {
        guard let nearest = nearestDeadlineNanoseconds() else { return nil }
        let now = MonotonicClock.nanoseconds()
        return ContinuousClock.now + .nanoseconds(nearest > now ? Int64(nearest - now) : 0)
    }

    /// One read and dispatch by the role holder; what the read saw, or nil when the connection
    /// failed in it (a failure from elsewhere is for the caller to notice, under the lock).
    func pump(timeout: Duration, tolerance: Duration) -> ReadOutcome? {
        let outcome: ReadOutcome
        do {
            outcome = try io.read(into: &reader.decoder, timeout: timeout, tolerance: tolerance)
        } catch {
            fail(RPCError(code: .unavailable, message: "reading from the server failed: \(error)"))
            return nil
        }
        switch outcome {
        case .bytes(let count):
            let frames = dispatchFrames()
            metrics?.recordReceived(frames: max(frames, 0), bytes: count)
            if frames < 0 { return nil }
        case .endOfStream:
            fail(RPCError(code: .unavailable, message: "the server closed the connection"))
            return nil
        case .timedOut, .woken:
            break
        }
        expireDeadlines()
        return outcome
    }

    /// Fails the connection: every call in flight and every later call gets `error`.
    func fail(_ error: RPCError) {
        let waiters = state.withLock { state -> [UnsafeContinuation<Wake, Never>] in
            if state.failure == nil { state.failure = error }
            var waiters: [UnsafeContinuation<Wake, Never>] = []
            for (_, stream) in state.streams {
                if let waiter = stream.waiter { waiters.append(waiter) }
                stream.waiter = nil
                }
            return waiters
        }
        io.close()
        threadSignal.withLock { threadSignal.broadcast() }
        for waiter in waiters { waiter.resume(returning: .check) }
    }

    // MARK: Writing

    /// Encodes and writes envelopes. Concurrent senders coalesce: while one writes, the others
    /// append to the buffer and return, and the writer sends what accumulated in one `write`.
    func send(_ envelopes: [Envelope]) throws {
        try send { writer in
            for envelope in envelopes { try writer.append(envelope) }
            return envelopes.count
        }
    }

    /// Sends what `encode` appends (it returns how many frames); it runs under the writer's
    /// lock, so what it decides (a stream id) is ordered as the frames are. The buffer being
    /// written is moved out of the lock and back, never shared, so it is reused, not copied.
    private func send(_ encode: (inout Writer) throws -> Int) throws {
        var frames = 0
        var batch = try writer.withLock { writer -> [UInt8]? in
            writer.bufferedFrames += try encode(&writer)
            if writer.writing { return nil }
            writer.writing = true
            frames = writer.bufferedFrames
            writer.bufferedFrames = 0
            var bytes: [UInt8] = []
            swap(&bytes, &writer.buffer)
            return bytes
        }
        while var bytes = batch.take() {
            do {
                try bytes.withUnsafeBytes { try io.write($0, timeout: configuration.writeTimeout) }
                metrics?.recordSent(frames: frames, bytes: bytes.count)
            } catch {
                writer.withLock { writer in
                    writer.writing = false
                    writer.buffer.removeAll()
                    writer.bufferedFrames = 0
                }
                let failure = RPCError(code: .unavailable, message: "writing to the server failed: \(error)")
                fail(failure)
                throw failure
            }
            bytes.removeAll(keepingCapacity: bytes.count <= 1024 * 1024)
            batch = writer.withLock { writer -> [UInt8]? in
                if writer.buffer.isEmpty {
                    writer.writing = false
                    swap(&bytes, &writer.buffer)  // the written buffer's capacity comes back
                    return nil
                }
                // What other senders queued meanwhile, counted as it leaves.
                frames = writer.bufferedFrames
                writer.bufferedFrames = 0
                swap(&bytes, &writer.buffer)
                return bytes
            }
        }
    }

    // MARK: Ping

    /// Measures a round trip to the server's connection loop.
    public func ping() async throws -> Duration {
        let start = ContinuousClock.now
        let id = try state.withLock { state -> UInt32 in
            if let failure = state.failure { throw failure }
            let id = state.nextPingID
            state.nextPingID = state.nextPingID &+ 2
            if state.nextPingID == 0 { state.nextPingID = 2 }
            state.streams.insert(state.makeStream(deadline: 0), for: id)
            return id
        }
        defer { releaseStream(id) }
        try send([Envelope(streamID: 0, kind: .ping, pingData: UInt64(id))])
        _ = try await nextInbound(id)
        return start.duration(to: .now)
    }
}
