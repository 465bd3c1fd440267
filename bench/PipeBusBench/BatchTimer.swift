import Glibc

/// Times an in-process operation as the median of several batches, each long enough (a few
/// milliseconds) for the clock's cost and resolution not to matter.
///
/// It reads the thread's CPU time, not the wall clock: a batch that is preempted (these machines
/// are shared with builds) would otherwise count the other process's time slice as its own.
struct BatchTimer: Sendable {
    /// Batches measured after calibration.
    var batches: Int
    /// CPU time one batch should take.
    var batchDuration: Duration

    /// Nanoseconds per operation of each batch, and operations per batch. `body(n)` performs the
    /// operation n times and returns a checksum of its results, which is kept so that the
    /// optimizer cannot drop the work.
    ///
    /// `body` may be async (the engine scenario's client calls are), but it must not suspend:
    /// the CPU time read is the calling thread's.
    func measure(_ body: (Int) async throws -> Int) async throws -> (nanosecondsPerOperation: [Double], perBatch: Int) {
        let perBatch = try await calibrate(body)
        var timings: [Double] = []
        for _ in 0..<batches {
            timings.append(try await time(perBatch, body) / Double(perBatch))
        }
        return (timings, perBatch)
    }

    /// Doubles the count until a run takes a tenth of the target, then scales to the target.
    /// The calibration runs double as warmup (caches, allocator, branch predictors).
    private func calibrate(_ body: (Int) async throws -> Int) async throws -> Int {
        let target = batchDuration.inNanoseconds
        var count = 1
        while true {
            let elapsed = try await time(count, body)
            if elapsed >= target / 10 || count >= 1 << 24 {
                return max(1, Int(Double(count) * target / max(elapsed, 1)))
            }
            count *= 2
        }
    }

    /// CPU nanoseconds that `body(count)` took on this thread.
    private func time(_ count: Int, _ body: (Int) async throws -> Int) async throws -> Double {
        let start = try Self.threadCPUTime()
        let checksum = try await body(count)
        let end = try Self.threadCPUTime()
        Self.keepAlive(checksum)
        return end - start
    }

    private static func threadCPUTime() throws -> Double {
        var now = timespec()
        guard clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now) == 0 else {
            throw BenchError("clock_gettime(CLOCK_THREAD_CPUTIME_ID)", errno: errno)
        }
        return Double(now.tv_sec) * 1e9 + Double(now.tv_nsec)
    }

    @inline(never)
    private static func keepAlive(_ value: Int) {
        withExtendedLifetime(value) {}
    }
}
