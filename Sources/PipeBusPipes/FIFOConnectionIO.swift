#if canImport(Glibc)
import Glibc
#endif
public import PipeBusCore
import PipeBusSystem
import Synchronization
import SystemPackage

/// One connection's pair of FIFOs as a `ConnectionIO`: a read end, and a non-blocking write end
/// whose every `write` is timed into the `pipe_write_latency_seconds` histogram.
///
/// The reader blocks in `read(2)` itself when it can (no `poll` first: one syscall per read, as
/// raw C does), and is woken by a signal (`BlockingReadSlot`). It polls the FIFO together with
/// an eventfd only for a read with a precise timeout, a zero timeout, or the spin policy.
public final class FIFOConnectionIO: ConnectionIO {
    /// How the reader waits for bytes.
    public struct ReadPolicy: Sendable, Hashable {
        /// Before blocking in `poll`, try non-blocking reads for this long, between them pausing
        /// or yielding the vCPU as the connection learns where its peer runs (`SpinWait`).
        /// Cuts the two-vCPU round trip ~20× here, at some CPU cost (DESIGN §5). Off by default.
        public var spin: Duration = .zero
        /// Bytes asked of one `read`.
        public var chunkSize = 256 * 1024

        public init(spin: Duration = .zero, chunkSize: Int = 256 * 1024) {
            self.spin = spin
            self.chunkSize = chunkSize
        }
    }

    private let readFD: Int32
    private let wakeFD: FileDescriptor
    private let writeFD = Mutex<Int32>(-1)
    private let readPolicy: ReadPolicy
    private let spinNanoseconds: UInt64
    private let metrics: TransportMetrics?
    private let closed = Atomic<Bool>(false)
    private nonisolated(unsafe) var pollSet: [pollfd]
    /// How spins wait between reads (only the thread holding the reading role touches it).
    private nonisolated(unsafe) var spinWait = SpinWait()
    private let slot = BlockingReadSlot()
    /// Whether reads may block in `read(2)` (the read end is then in blocking mode).
    private let blockingReads: Bool

    /// Takes ownership of `readFD` (and `writeFD` when given; else `attachWriteEnd` later).
    init(readFD: Int32, writeFD: Int32?, readPolicy: ReadPolicy, metrics: TransportMetrics?) throws {
        self.readFD = readFD
        self.wakeFD = try FileDescriptor.eventFD()
        self.readPolicy = readPolicy
        let (seconds, attoseconds) = readPolicy.spin.components
        self.spinNanoseconds = UInt64(max(0, seconds)) * 1_000_000_000 + UInt64(max(0, attoseconds) / 1_000_000_000)
        self.metrics = metrics
        self.pollSet = [pollfd(fd: readFD, events: Int16(POLLIN), revents: 0), pollfd(fd: wakeFD.rawValue, events: Int16(POLLIN), revents: 0)]
        // Spinning needs non-blocking reads; blocking reads need the wake signal.
        self.blockingReads = spinNanoseconds == 0 && HotPathSyscalls.wakeSignalAvailable && FileDescriptor(rawValue: readFD).setBlocking()
        if let writeFD { self.writeFD.withLock { $0 = writeFD } }
        if blockingReads { BlockingReadWatchdog.shared.register(slot) }
    }

    func attachWriteEnd(_ fd: Int32) {
        writeFD.withLock { $0 = fd }
    }

    deinit {
        close()
        if blockingReads { BlockingReadWatchdog.shared.unregister(slot) }
        FileDescriptor(rawValue: readFD).closeIgnoringErrors()
        wakeFD.closeIgnoringErrors()
    }

    public func read(into decoder: inout FrameDecoder, timeout: Duration?) throws -> ReadOutcome {
        try read(into: &decoder, timeout: timeout, tolerance: .zero)
    }

    public func read(into decoder: inout FrameDecoder, timeout: Duration?, tolerance: Duration) throws -> ReadOutcome {
        if closed.load(ordering: .relaxed) { throw RPCError(code: .unavailable, message: "connection closed") }
        if spinNanoseconds > 0, let outcome = try spinRead(into: &decoder) { return outcome }
        if blockingReads, timeout == nil || (timeout! > .zero && tolerance >= Self.blockingTolerance) {
            return try blockingRead(into: &decoder, timeout: timeout)
        }
        return try pollingRead(into: &decoder, timeout: timeout)
    }

    /// The least timeout tolerance for which a timed read blocks in `read(2)` and is ended by
    /// the watchdog (which is up to a tick and some scheduling late).
    static let blockingTolerance: Duration = BlockingReadWatchdog.tick * 2

    private func blockingRead(into decoder: inout FrameDecoder, timeout: Duration?) throws -> ReadOutcome {
        let threadID = HotPathSyscalls.prepareWakeableThread()
        let wakeAt = timeout.map { HotPathSyscalls.monotonicNanoseconds() &+ UInt64($0.nanosecondsClamped) } ?? .max
        slot.threadID.store(threadID, ordering: .sequentiallyConsistent)
        slot.wakeAt.store(wakeAt, ordering: .sequentiallyConsistent)
        while true {
            slot.state.store(.blocking, ordering: .sequentiallyConsistent)
            if let woken = try takeInterrupt() { return woken }
            if wakeAt != .max { BlockingReadWatchdog.shared.expect(wakeAt: wakeAt) }
            let count = readChunk(into: &decoder, HotPathSyscalls.readInterruptibly)
            slot.state.store(.idle, ordering: .sequentiallyConsistent)
            if let count = try count.get() { return count == 0 ? .endOfStream : .bytes(count) }
            if let woken = try takeInterrupt() { return woken }
            if HotPathSyscalls.monotonicNanoseconds() >= wakeAt { return .timedOut }
        }
    }

    /// `.woken` if a wake-up is pending (consuming it); throws once the connection is closed.
    private func takeInterrupt() throws -> ReadOutcome? {
        guard slot.interrupt.load(ordering: .sequentiallyConsistent) else { return nil }
        slot.state.store(.idle, ordering: .sequentiallyConsistent)
        slot.interrupt.store(false, ordering: .sequentiallyConsistent)
        if closed.load(ordering: .relaxed) { throw RPCError(code: .unavailable, message: "connection closed") }
        return .woken
    }

    private func pollingRead(into decoder: inout FrameDecoder, timeout: Duration?) throws -> ReadOutcome {
        let deadline = timeout.map { ContinuousClock.now + $0 }
        while true {
            pollSet[0].revents = 0
            pollSet[1].revents = 0
            let remaining = deadline.map { max(.zero, ContinuousClock.now.duration(to: $0)) }
            slot.state.store(.polling, ordering: .sequentiallyConsistent)
            if let woken = try takeInterrupt() { return woken }
            do {
                defer { slot.state.store(.idle, ordering: .sequentiallyConsistent) }
                try FileDescriptor.poll(&pollSet, timeout: remaining)
            } catch let error as SystemCallError {
                throw error.rpcError("polling the connection failed")
            }
            if pollSet[1].revents != 0 {
                wakeFD.drainEvent()
                if closed.load(ordering: .relaxed) { throw RPCError(code: .unavailable, message: "connection closed") }
                if pollSet[0].revents == 0, let woken = try takeInterrupt() { return woken }
            }
            if pollSet[0].revents != 0 {
                // POLLIN or POLLHUP: read tells which (bytes, or 0 at end of stream).
                if let outcome = try readOnce(into: &decoder) { return outcome }
                continue
            }
            if let deadline, ContinuousClock.now >= deadline { return .timedOut }
        }
    }

    private func readOnce(into decoder: inout FrameDecoder) throws -> ReadOutcome? {
        guard let count = try readChunk(into: &decoder, HotPathSyscalls.read).get() else { return nil }
        return count == 0 ? .endOfStream : .bytes(count)
    }

    /// One `read` into the decoder through `read` (nil from it: would block, or interrupted):
    /// the byte count (0 at end of stream), nil for no bytes this time, or the failure.
    private func readChunk(
        into decoder: inout FrameDecoder,
        _ read: (Int32, UnsafeMutableRawBufferPointer) throws -> Int?
    ) -> Result<Int?, RPCError> {
        var outcome: Result<Int?, RPCError> = .success(nil)
        _ = decoder.readInto(maximum: readPolicy.chunkSize) { buffer in
            do {
                guard let count = try read(readFD, buffer) else { return -1 }
                outcome = .success(count)
                return count
            } catch let error as SystemCallError {
                outcome = .failure(error.rpcError("reading the connection failed"))
            } catch {
                outcome = .failure(RPCError(code: .unavailable, message: "reading the connection failed: \(error)"))
            }
            return -1
        }
        return outcome
    }

    /// Non-blocking reads for up to the spin budget, pausing or yielding between them as
    /// `spinWait` has learned; nil when the budget ran out with no bytes.
    private func spinRead(into decoder: inout FrameDecoder) throws -> ReadOutcome? {
        let plan = spinWait.plan()
        let start = HotPathSyscalls.monotonicNanoseconds()
        var waited = false
        var switchesBefore = 0
        repeat {
            // A 0-byte read can mean "no writer yet" as well as "writer gone" (a FIFO whose
            // peer has not opened its end): only poll tells them apart, so leave that to it.
            if let outcome = try readOnce(into: &decoder), outcome != .endOfStream {
                if waited {
                    if plan.wait == .yield && heldOff(since: start) {
                        spinWait.learn(plan, .heldOff)
                        return outcome
                    }
                    // Unmeasured, or unknown (-1: no per-thread counts here): teaches nothing.
                    var gaveCPUAway: Bool?
                    if plan.measuresSwitches && switchesBefore >= 0 {
                        gaveCPUAway = HotPathSyscalls.involuntarySwitches() != switchesBefore
                    }
                    spinWait.learn(plan, .arrived(gaveCPUAway: gaveCPUAway))
                }
                return outcome
            }
            if !waited {
                waited = true
                if plan.measuresSwitches { switchesBefore = HotPathSyscalls.involuntarySwitches() }
            }
            switch plan.wait {
            case .pause: HotPathSyscalls.relax()
            case .yield: HotPathSyscalls.yield()
            case .block: return nil
            }
        } while HotPathSyscalls.monotonicNanoseconds() - start < spinNanoseconds
        spinWait.learn(plan, plan.wait == .yield && heldOff(since: start) ? .heldOff : .expired)
        return nil
    }

    /// Whether a spin that started at `start` ran past its budget by more than a yield to a
    /// peer explains (`SpinWait.heldOffNanoseconds`).
    private func heldOff(since start: UInt64) -> Bool {
        HotPathSyscalls.monotonicNanoseconds() - start > spinNanoseconds + SpinWait.heldOffNanoseconds
    }

    /// Each call is one sample of `pipe_write_latency_seconds`: from the first `write` to the
    /// last byte accepted, including any wait for a full pipe to drain (a slow reader shows).
    public func write(_ bytes: UnsafeRawBufferPointer, timeout: Duration) throws {
        let start = HotPathSyscalls.monotonicNanoseconds()
        defer { metrics?.writeLatency.record(nanoseconds: HotPathSyscalls.monotonicNanoseconds() - start) }
        try writeFD.withLock { fd in
            guard fd >= 0 else { throw RPCError(code: .unavailable, message: "connection closed") }
            var offset = 0
            // Monotonic nanoseconds, 0 until the pipe is first full (an optional Instant
            // would cost value-witness calls on every write).
            var deadline: UInt64 = 0
            while offset < bytes.count {
                let chunk = UnsafeRawBufferPointer(rebasing: bytes[offset...])
                let written: Int?
                do {
                    written = try HotPathSyscalls.write(fd, chunk)
                } catch let error as SystemCallError {
                    throw error.rpcError(error.errno == .brokenPipe ? "the peer closed its end" : "writing the connection failed")
                }
                if let written {
                    offset += written
                    continue
                }
                // The pipe is full: wait for the reader to make room, up to `timeout` in all.
                let now = HotPathSyscalls.monotonicNanoseconds()
                if deadline == 0 { deadline = now &+ UInt64(max(1, timeout.nanosecondsClamped)) }
                guard deadline > now else {
                    throw RPCError(code: .deadlineExceeded, message: "the peer did not read \(bytes.count - offset) pending bytes within \(timeout)")
                }
                let remaining = Duration.nanoseconds(Int64(deadline - now))
                var waitSet = [pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)]
                do {
                    try FileDescriptor.poll(&waitSet, timeout: remaining)
                } catch let error as SystemCallError {
                    throw error.rpcError("polling the connection failed")
                }
                if waitSet[0].revents & Int16(POLLERR | POLLHUP) != 0 {
                    throw RPCError(code: .unavailable, message: "the peer closed its end")
                }
            }
        }
    }

    public func wake() {
        slot.interrupt.store(true, ordering: .sequentiallyConsistent)
        switch slot.state.load(ordering: .sequentiallyConsistent) {
        case .blocking:
            _ = slot.signalIfBlocked()
            // The signal is lost if it lands just before the reader enters `read`; the
            // watchdog sends it again until the reader is out.
            BlockingReadWatchdog.shared.kick()
        case .polling:
            wakeFD.signalEvent()
        case .idle:
            break  // the reader looks at `interrupt` before it waits again
        }
    }

    public func close() {
        if closed.exchange(true, ordering: .relaxed) { return }
        writeFD.withLock { fd in
            if fd >= 0 { FileDescriptor(rawValue: fd).closeIgnoringErrors() }
            fd = -1
        }
        wake()
    }
}

extension Duration {
    /// Whole nanoseconds, clamped to `Int64` (negative durations count as zero).
    fileprivate var nanosecondsClamped: Int64 {
        let (seconds, attoseconds) = components
        if seconds < 0 { return 0 }
        if seconds >= Int64.max / 1_000_000_000 - 1 { return Int64.max }
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
