#if canImport(Glibc)
import Glibc
#endif
internal import CPipeBusShim
import PipeBusSystem
import SystemPackage

/// The pipe hot path's syscalls: a connection's reads and writes, the monotonic clock and the
/// wake signal of a blocking read. Every other syscall is in PipeBusSystem; these stay plain
/// Glibc calls in this module because moving them there changes what the compiler inlines into
/// every call, and the hot path moves only after an A/B of the bench's `engine` and `rtt` rows
/// (CONTRIBUTING.md). Failures are `SystemCallError`s all the same.
enum HotPathSyscalls {
    /// Reads once; 0 is end of stream; nil means it would block.
    static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) throws -> Int? {
        while true {
            let count = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if count >= 0 { return count }
            let code = Glibc.errno
            if code == EAGAIN || code == EWOULDBLOCK { return nil }
            if code != EINTR { throw SystemCallError("read", errno: Errno(rawValue: code)) }
        }
    }

    /// Reads once, blocking; 0 is end of stream; nil means a signal interrupted it (EINTR is
    /// how a blocked reader is woken) or the descriptor is non-blocking and empty.
    static func readInterruptibly(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) throws -> Int? {
        let count = Glibc.read(fd, buffer.baseAddress, buffer.count)
        if count >= 0 { return count }
        let code = Glibc.errno
        if code == EINTR || code == EAGAIN || code == EWOULDBLOCK { return nil }
        throw SystemCallError("read", errno: Errno(rawValue: code))
    }

    /// Writes once; nil means it would block.
    static func write(_ fd: Int32, _ buffer: UnsafeRawBufferPointer) throws -> Int? {
        while true {
            let count = Glibc.write(fd, buffer.baseAddress, buffer.count)
            if count >= 0 { return count }
            let code = Glibc.errno
            if code == EAGAIN || code == EWOULDBLOCK { return nil }
            if code != EINTR { throw SystemCallError("write", errno: Errno(rawValue: code)) }
        }
    }

    /// Whether the wake signal could be installed (`pipebus_wake_signal`).
    static let wakeSignalAvailable = pipebus_wake_signal() != 0

    /// Makes the calling thread interruptible by the wake signal; its kernel thread id.
    static func prepareWakeableThread() -> Int32 { pipebus_prepare_wakeable_thread() }

    static func monotonicNanoseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }

    static func yield() { sched_yield() }

    /// The CPU's spin-wait hint (`pause`): no syscall, the vCPU stays ours.
    @inline(__always) static func relax() { pipebus_cpu_relax() }

    /// The calling thread's involuntary context switches so far (-1 if unknown).
    static func involuntarySwitches() -> Int { pipebus_thread_involuntary_switches() }
}
