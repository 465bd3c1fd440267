internal import CPipeBusShim
import FoundationEssentials

/// Pins processes to vCPUs through the C shim (Glibc's overlay does not expose `sched_setaffinity`).
enum CPUPinning {
    /// Pins the calling thread, and every thread it starts afterwards, to `cpus`.
    ///
    /// Threads that already exist keep their affinity, so this refuses to run once the process
    /// has a second thread: a pinned benchmark with an unpinned helper thread measures noise.
    static func pinProcess(to cpus: [Int]) throws {
        if let threads = threadCount(), threads > 1 {
            throw BenchError("cannot pin to CPUs \(cpus): the process already runs \(threads) threads")
        }
        let result = cpus.map { Int32($0) }.withUnsafeBufferPointer { pointer in
            pipebus_pin_to_cpus(pointer.baseAddress, Int32(pointer.count))
        }
        guard result == 0 else {
            throw BenchError("cannot pin to CPUs \(cpus)", errno: result)
        }
    }

    /// How many CPUs this process may run on, or nil when the kernel would not say.
    static func allowedCPUCount() -> Int? {
        let count = pipebus_allowed_cpu_count()
        return count > 0 ? Int(count) : nil
    }

    /// The process's thread count from /proc, or nil where /proc is not mounted.
    private static func threadCount() -> Int? {
        try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").count
    }
}
