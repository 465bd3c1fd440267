import Foundation
import PipeBusCore
import Synchronization
import Testing

@testable import PipeBusSidecar
import PipeBusTasks

/// Found by scripts/soak.sh: a `pipebus watch` client killed while the sidecar reported a
/// transition froze the sidecar (heartbeats, leases, SIGTERM). EventLog.append yielded to the
/// subscribers while holding its lock; the watch handler's task, being cancelled, held its task
/// status lock while its stream's onTermination waited for that same lock.
@Suite("EventLog under cancellation")
struct EventLogDeadlockTests {
    final class Counters: Sendable {
        let stop = Atomic<Bool>(false)
        let appended = Atomic<Int>(0)
        let finished = Atomic<Int>(0)
        let outOfOrder = Atomic<Int>(0)
    }

    @Test("subscribers cancelled while events are appended from two threads: no deadlock, every event in order")
    func cancelWhileAppending() async throws {
        let log = EventLog(capacity: 64, subscriberBuffer: 1 << 20)
        let counters = Counters()
        let appenders = (0..<2).map { _ in
            OSThread(name: "test-append") {
                while !counters.stop.load(ordering: .relaxed) {
                    log.append(Pipebus_Tasks_V1_Event(kind: .heartbeat))
                    counters.appended.add(1, ordering: .relaxed)
                }
            }
        }
        defer {
            counters.stop.store(true, ordering: .relaxed)
            // Joined only if they can still finish: a deadlocked appender would hang the run.
        }

        let rounds = 400
        let worker = Task.detached {
            for _ in 0..<rounds {
                let (events, _) = try log.subscribe(after: 0)
                let reader = Task {
                    var last: UInt64 = 0
                    for try await event in events {
                        if event.seq <= last { counters.outOfOrder.add(1, ordering: .relaxed) }
                        last = event.seq
                    }
                }
                try await Task.sleep(for: .microseconds(Int.random(in: 0...300)))
                reader.cancel()
                _ = await reader.result
                counters.finished.add(1, ordering: .relaxed)
            }
        }
        // Progress, not a fixed duration: a deadlock shows as no finished round for 10 s.
        var lastFinished = -1
        var lastProgress = ContinuousClock.now
        while counters.finished.load(ordering: .relaxed) < rounds {
            let now = counters.finished.load(ordering: .relaxed)
            if now != lastFinished {
                lastFinished = now
                lastProgress = .now
            } else if lastProgress.duration(to: .now) > .seconds(10) {
                Issue.record("deadlock: \(now) of \(rounds) subscriptions cancelled, then none for 10 s (\(counters.appended.load(ordering: .relaxed)) events appended)")
                return
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        _ = try await worker.value
        counters.stop.store(true, ordering: .relaxed)
        for appender in appenders { appender.join() }
        #expect(counters.outOfOrder.load(ordering: .relaxed) == 0)
        #expect(counters.appended.load(ordering: .relaxed) > 0)
    }
}
