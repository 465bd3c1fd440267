import PipeBusCore
import PipeBusTasks
import Synchronization

/// The sidecar's event stream: heartbeats and transitions, numbered from 1 without gaps.
///
/// The last `capacity` events are kept, so a client that lost its stream resumes from the last
/// sequence number it saw and gets every later event exactly once, as long as it comes back
/// before `capacity` newer events have pushed its position out (then OUT_OF_RANGE).
final class EventLog: Sendable {
    private struct State {
        var ring: [Pipebus_Tasks_V1_Event] = []
        var start = 0
        var nextSeq: UInt64 = 1
        var subscribers: [Int: AsyncThrowingStream<Pipebus_Tasks_V1_Event, any Error>.Continuation] = [:]
        var nextSubscriber = 0
    }

    let capacity: Int
    /// Events a subscriber may have unread before it is cut off (it can then resume).
    let subscriberBuffer: Int
    private let state = Mutex(State())
    /// Held while an append hands its event to the subscribers, so that they get events in
    /// order; `state` is not held then. A yield resumes the subscriber's task, which takes that
    /// task's status lock, and a task being cancelled holds its status lock while its stream's
    /// onTermination takes `state`: yielding under `state` deadlocked the two (found by the soak:
    /// a `pipebus watch` killed during a transition froze heartbeats, leases and shutdown).
    private let delivery = Mutex(())

    init(capacity: Int = 10_000, subscriberBuffer: Int = 4_096) {
        self.capacity = capacity
        self.subscriberBuffer = subscriberBuffer
    }

    /// The sequence number of the newest event (0 before the first).
    var lastSeq: UInt64 { state.withLock { $0.nextSeq - 1 } }

    /// Appends an event, numbering it, and hands it to every subscriber.
    @discardableResult
    func append(_ event: Pipebus_Tasks_V1_Event) -> UInt64 {
        var event = event
        let (seq, slow) = delivery.withLock { _ -> (UInt64, [Int]) in
            let subscribers = state.withLock { state -> [Int: AsyncThrowingStream<Pipebus_Tasks_V1_Event, any Error>.Continuation] in
                event.seq = state.nextSeq
                state.nextSeq += 1
                if state.ring.count < capacity {
                    state.ring.append(event)
                } else {
                    state.ring[state.start] = event
                    state.start = (state.start + 1) % capacity
                }
                return state.subscribers
            }
            // A subscriber that joins now replays this event from the ring and is not in
            // `subscribers`: it gets the event once, in order.
            var slow: [Int] = []
            for (id, continuation) in subscribers {
                if case .dropped = continuation.yield(event) { slow.append(id) }
            }
            return (event.seq, slow)
        }
        for id in slow {
            let continuation = state.withLock { $0.subscribers.removeValue(forKey: id) }
            continuation?.finish(throwing: RPCError(code: .resourceExhausted, message: "event subscriber fell more than \(subscriberBuffer) events behind; resume from the last seq seen"))
        }
        return seq
    }

    /// Events after `afterSeq` (0: only new ones), then every new one as it happens.
    func subscribe(after afterSeq: UInt64) throws -> (events: AsyncThrowingStream<Pipebus_Tasks_V1_Event, any Error>, cancel: @Sendable () -> Void) {
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: Pipebus_Tasks_V1_Event.self, bufferingPolicy: .bufferingOldest(subscriberBuffer + capacity))
        let id = try state.withLock { state -> Int in
            if afterSeq > 0 {
                let oldest = state.nextSeq - UInt64(state.ring.count)
                guard afterSeq + 1 >= oldest else {
                    throw RPCError(code: .outOfRange, message: "events up to \(oldest - 1) are no longer kept (asked to resume after \(afterSeq)); the sidecar keeps the last \(capacity)")
                }
                guard afterSeq < state.nextSeq else {
                    throw RPCError(code: .outOfRange, message: "event \(afterSeq) has not happened yet (last is \(state.nextSeq - 1)); did the sidecar restart?")
                }
                for offset in 0..<state.ring.count {
                    let event = state.ring[(state.start + offset) % state.ring.count]
                    if event.seq > afterSeq { continuation.yield(event) }
                }
            }
            let id = state.nextSubscriber
            state.nextSubscriber += 1
            state.subscribers[id] = continuation
            return id
        }
        let cancel: @Sendable () -> Void = { [weak self] in
            self?.state.withLock { $0.subscribers.removeValue(forKey: id) }?.finish()
        }
        continuation.onTermination = { _ in cancel() }
        return (stream, cancel)
    }

    /// Ends every subscription (at shutdown).
    func finishAll() {
        let all = state.withLock { state in
            defer { state.subscribers.removeAll() }
            return Array(state.subscribers.values)
        }
        for continuation in all { continuation.finish() }
    }
}
