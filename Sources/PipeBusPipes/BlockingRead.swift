#if canImport(Glibc)
import Glibc
#endif
internal import CPipeBusShim
import PipeBusCore
import Synchronization

/// One reader's blocking `read(2)` as other threads see it, so that they can interrupt it.
///
/// A blocked `read` on a FIFO wakes for nothing but bytes or end of stream. To wake it for
/// `wake()`, `close()` or a timeout, a waker sets `interrupt` and sends the reader's thread the
/// wake signal (`pipebus_wake_signal`: a no-op handler without SA_RESTART), so the read
/// returns EINTR. A signal sent between the reader's last look at `interrupt` and its entry
/// into `read` is lost; `BlockingReadWatchdog` sends it again every tick until the reader is
/// out of the read. Both sides store, then load, with sequential consistency: either the
/// reader sees `interrupt`, or the waker sees `state == .blocking` and signals.
final class BlockingReadSlot: Sendable {
    enum State: UInt8, AtomicRepresentable {
        case idle
        /// In, or about to enter, a blocking `read`.
        case blocking
        /// In, or about to enter, `poll` on the FIFO and the eventfd.
        case polling
    }

    let state = Atomic<State>(.idle)
    let interrupt = Atomic<Bool>(false)
    /// The reader's kernel thread id, stored before `state` becomes `.blocking`.
    let threadID = Atomic<Int32>(0)
    /// When the watchdog ends a timed blocking read (monotonic ns); `.max`: never.
    let wakeAt = Atomic<UInt64>(.max)

    /// Signals the reader if it is (about to be) blocked in `read`.
    func signalIfBlocked() -> Bool {
        guard state.load(ordering: .sequentiallyConsistent) == .blocking else { return false }
        _ = pipebus_wake_thread(threadID.load(ordering: .sequentiallyConsistent))
        return true
    }
}

/// Re-sends wake signals that may have been lost and ends timed blocking reads: one thread per
/// process, waiting on a condition until the earliest `wakeAt` of the blocked readers. A reader
/// that moved its `wakeAt` on meanwhile just sends it back to sleep, so a busy connection costs
/// it one look per leader budget, and the read path no syscall: a reader kicks it only when
/// its own wake-up is earlier than the watchdog's next look (after it went idle, mostly).
final class BlockingReadWatchdog: Sendable {
    static let shared = BlockingReadWatchdog()
    /// How late a timed blocking read may end (plus scheduling), and the re-send period.
    static let tick: Duration = .milliseconds(1)
    private static let tickNanoseconds: UInt64 = 1_000_000

    private struct Registry {
        var slots: [ObjectIdentifier: BlockingReadSlot] = [:]
        var thread: OSThread?
    }

    private let registry = Mutex(Registry())
    /// When the watchdog looks next (monotonic ns); `.max` while it waits for a kick.
    private let nextLook = Atomic<UInt64>(.max)
    private let condition = ConditionLock()
    // Guarded by `condition`.
    private nonisolated(unsafe) var kicked = false

    func register(_ slot: BlockingReadSlot) {
        registry.withLock { registry in
            registry.slots[ObjectIdentifier(slot)] = slot
            if registry.thread == nil {
                // Lives as long as the process; it holds no resources worth joining for.
                registry.thread = OSThread(name: "pipebus-watchdog") { [self] in run() }
            }
        }
    }

    func unregister(_ slot: BlockingReadSlot) {
        _ = registry.withLock { $0.slots.removeValue(forKey: ObjectIdentifier(slot)) }
    }

    /// Called by a reader after it stored `wakeAt` and its state: wakes the watchdog only if
    /// it would otherwise look too late.
    func expect(wakeAt: UInt64) {
        if wakeAt < nextLook.load(ordering: .sequentiallyConsistent) { kick() }
    }

    /// Makes the watchdog look now.
    func kick() {
        condition.withLock {
            kicked = true
            condition.broadcast()
        }
    }

    private func run() {
        while true {
            // Store the plan before scanning: a reader either sees the plan (and kicks if it
            // needs an earlier look) or is seen by the scan.
            nextLook.store(.max, ordering: .sequentiallyConsistent)
            let now = HotPathSyscalls.monotonicNanoseconds()
            let next = scan(now: now).map { max($0, now + Self.tickNanoseconds) }
            if let next { nextLook.store(next, ordering: .sequentiallyConsistent) }
            // A reader that started between the scan and this store kicks (it saw .max or a
            // later plan) or has a later wakeAt than `next`: nothing is missed.
            condition.withLock {
                if !kicked {
                    let deadline = next.map { next in
                        let current = HotPathSyscalls.monotonicNanoseconds()
                        return ContinuousClock.now + .nanoseconds(next > current ? next - current : 0)
                    }
                    _ = condition.wait(until: deadline)
                }
                kicked = false
            }
        }
    }

    /// Signals every blocked reader that is due; the next time a look is needed, or nil when
    /// no blocked reader has a wake-up time or a pending interrupt.
    private func scan(now: UInt64) -> UInt64? {
        registry.withLock { registry in
            var next: UInt64?
            for slot in registry.slots.values where slot.state.load(ordering: .sequentiallyConsistent) == .blocking {
                let due = slot.interrupt.load(ordering: .sequentiallyConsistent)
                let wakeAt = slot.wakeAt.load(ordering: .sequentiallyConsistent)
                var look: UInt64?
                if due || now >= wakeAt {
                    _ = slot.signalIfBlocked()
                    look = now + Self.tickNanoseconds  // again, until the reader is out
                } else if wakeAt != .max {
                    look = wakeAt
                }
                if let look { next = min(next ?? look, look) }
            }
            return next
        }
    }
}
