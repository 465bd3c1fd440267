import PipeBusCore
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("BlockingPool", .timeLimit(.minutes(1)))
struct BlockingPoolTests {
    /// Waits until `count` callers have arrived or `deadline` passes; true if all arrived.
    final class Barrier: Sendable {
        private let arrived = Atomic<Int>(0)
        let count: Int
        let deadline: ContinuousClock.Instant

        init(count: Int, within limit: Duration) {
            self.count = count
            self.deadline = .now + limit
        }

        func arriveAndWait() -> Bool {
            arrived.add(1, ordering: .sequentiallyConsistent)
            while arrived.load(ordering: .sequentiallyConsistent) < count {
                if ContinuousClock.now >= deadline { return false }
                usleep(1_000)
            }
            return true
        }
    }

    @Test("forEach runs its calls side by side: eight calls that each wait for all eight return")
    func forEachRunsSideBySide() {
        let pool = BlockingPool(name: "test-pool", width: 8)
        defer { pool.close() }
        // One after another, the first call would wait out the deadline alone.
        let barrier = Barrier(count: 8, within: .seconds(20))
        let met = Atomic<Int>(0)
        pool.forEach(Array(0..<8)) { _ in
            if barrier.arriveAndWait() { met.add(1, ordering: .relaxed) }
        }
        let met8 = met.load(ordering: .relaxed)
        #expect(met8 == 8)
    }

    @Test("no more than width calls run at once, and every call runs once")
    func widthBoundsConcurrency() {
        let pool = BlockingPool(name: "test-pool", width: 3)
        defer { pool.close() }
        let running = Atomic<Int>(0)
        let most = Atomic<Int>(0)
        let calls = Mutex<[Int]>([])
        pool.forEach(Array(0..<24)) { element in
            let now = running.add(1, ordering: .sequentiallyConsistent).newValue
            _ = most.max(now, ordering: .sequentiallyConsistent)
            usleep(2_000)
            running.subtract(1, ordering: .sequentiallyConsistent)
            calls.withLock { $0.append(element) }
        }
        let mostAtOnce = most.load(ordering: .relaxed)
        #expect(mostAtOnce <= 3)
        #expect(calls.withLock { $0.sorted() } == Array(0..<24))
    }

    @Test("run returns the body's value or error from another thread; after close it runs nothing and throws CancellationError")
    func runAndClose() async throws {
        struct Failure: Error {}
        let pool = BlockingPool(name: "test-pool", width: 2)
        let caller = OSThread.currentID
        let (value, thread) = try await pool.run { (42, OSThread.currentID) }
        #expect(value == 42)
        #expect(thread != caller)
        await #expect(throws: Failure.self) { try await pool.run { throw Failure() } }
        pool.close()
        let ran = Atomic<Bool>(false)
        await #expect(throws: CancellationError.self) { try await pool.run { ran.store(true, ordering: .relaxed) } }
        let didRun = ran.load(ordering: .relaxed)
        #expect(!didRun)
        // forEach still does its work after close, on the calling thread.
        let done = Atomic<Int>(0)
        pool.forEach([1, 2, 3]) { _ in done.add(1, ordering: .relaxed) }
        let doneCount = done.load(ordering: .relaxed)
        #expect(doneCount == 3)
    }

    @Test("close returns only after the call that is running has returned")
    func closeWaitsForRunningWork() async throws {
        let pool = BlockingPool(name: "test-pool", width: 1)
        let started = Atomic<Bool>(false)
        let finished = Atomic<Bool>(false)
        let call = Task {
            try await pool.run {
                started.store(true, ordering: .sequentiallyConsistent)
                usleep(50_000)
                finished.store(true, ordering: .sequentiallyConsistent)
            }
        }
        while !started.load(ordering: .sequentiallyConsistent) { try await Task.sleep(for: .milliseconds(1)) }
        pool.close()
        let finishedBeforeClose = finished.load(ordering: .sequentiallyConsistent)
        #expect(finishedBeforeClose)
        try await call.value
    }
}
