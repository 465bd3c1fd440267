#if canImport(Glibc)
import Glibc
#endif
internal import CPipeBusShim
public import PipeBusCore

// Every syscall of the named-pipe transport goes through here: EINTR retried, errno captured
// at once, failures turned into `SystemError`.

/// A failed syscall: which, on what path, and errno.
public struct SystemError: Error, Hashable, Sendable, CustomStringConvertible {
    public var operation: String
    public var path: String?
    public var errno: Int32

    public var description: String {
        let reason = String(cString: strerror(errno))
        if let path { return "\(operation) \(path): \(reason) (errno \(errno))" }
        return "\(operation): \(reason) (errno \(errno))"
    }

    /// The same failure as an RPC status, for callers of the transport.
    public func rpcError(_ code: StatusCode, _ message: String) -> RPCError {
        RPCError(code: code, message: message, cause: description)
    }
}

enum Sys {
    static let fifoOpenFlags = O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK

    static func open(_ path: String, _ flags: Int32, mode: mode_t = 0) throws -> Int32 {
        while true {
            let fd = Glibc.open(path, flags, mode)
            if fd >= 0 { return fd }
            let code = Glibc.errno
            if code != EINTR { throw SystemError(operation: "open", path: path, errno: code) }
        }
    }

    static func close(_ fd: Int32) {
        _ = Glibc.close(fd)  // never retried on Linux: the descriptor is gone either way
    }

    /// Reads once; 0 is end of stream; nil means it would block.
    static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) throws -> Int? {
        while true {
            let count = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if count >= 0 { return count }
            let code = Glibc.errno
            if code == EAGAIN || code == EWOULDBLOCK { return nil }
            if code != EINTR { throw SystemError(operation: "read", path: nil, errno: code) }
        }
    }

    /// Reads once, blocking; 0 is end of stream; nil means a signal interrupted it (EINTR is
    /// how a blocked reader is woken) or the descriptor is non-blocking and empty.
    static func readInterruptibly(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) throws -> Int? {
        let count = Glibc.read(fd, buffer.baseAddress, buffer.count)
        if count >= 0 { return count }
        let code = Glibc.errno
        if code == EINTR || code == EAGAIN || code == EWOULDBLOCK { return nil }
        throw SystemError(operation: "read", path: nil, errno: code)
    }

    /// Whether the wake signal could be installed (`pipebus_wake_signal`).
    static let wakeSignalAvailable = pipebus_wake_signal() != 0

    /// Makes the calling thread interruptible by the wake signal; its kernel thread id.
    static func prepareWakeableThread() -> Int32 { pipebus_prepare_wakeable_thread() }

    /// Clears O_NONBLOCK; false if that failed.
    static func setBlocking(_ fd: Int32) -> Bool { pipebus_set_nonblocking(fd, 0) == 0 }

    /// Writes once; nil means it would block.
    static func write(_ fd: Int32, _ buffer: UnsafeRawBufferPointer) throws -> Int? {
        while true {
            let count = Glibc.write(fd, buffer.baseAddress, buffer.count)
            if count >= 0 { return count }
            let code = Glibc.errno
            if code == EAGAIN || code == EWOULDBLOCK { return nil }
            if code != EINTR { throw SystemError(operation: "write", path: nil, errno: code) }
        }
    }

    /// Polls; returns the revents of each entry (all 0 on timeout). `timeout` nil waits forever.
    static func poll(_ fds: inout [pollfd], timeout: Duration?) throws {
        let milliseconds: Int32
        if let timeout {
            let (seconds, attoseconds) = timeout.components
            let total = seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
            milliseconds = Int32(clamping: max(0, total))
        } else {
            milliseconds = -1
        }
        let count = fds.count
        let result = fds.withUnsafeMutableBufferPointer { Glibc.poll($0.baseAddress, nfds_t(count), milliseconds) }
        if result < 0 {
            let code = Glibc.errno
            if code == EINTR {
                for index in fds.indices { fds[index].revents = 0 }
                return
            }
            throw SystemError(operation: "poll", path: nil, errno: code)
        }
    }

    static func fstat(_ fd: Int32) throws -> stat {
        var info = stat()
        if Glibc.fstat(fd, &info) != 0 { throw SystemError(operation: "fstat", path: nil, errno: Glibc.errno) }
        return info
    }

    /// lstat; nil when nothing is there.
    static func lstat(_ path: String) throws -> stat? {
        var info = stat()
        if Glibc.lstat(path, &info) == 0 { return info }
        let code = Glibc.errno
        if code == ENOENT { return nil }
        throw SystemError(operation: "lstat", path: path, errno: code)
    }

    static func mkfifo(_ path: String, mode: mode_t) throws {
        if Glibc.mkfifo(path, mode) != 0 { throw SystemError(operation: "mkfifo", path: path, errno: Glibc.errno) }
    }

    static func mkdir(_ path: String, mode: mode_t) throws {
        if Glibc.mkdir(path, mode) != 0 {
            let code = Glibc.errno
            if code != EEXIST { throw SystemError(operation: "mkdir", path: path, errno: code) }
        }
    }

    static func fchmod(_ fd: Int32, _ mode: mode_t) throws {
        if Glibc.fchmod(fd, mode) != 0 { throw SystemError(operation: "fchmod", path: nil, errno: Glibc.errno) }
    }

    /// unlink, ignoring a path that is already gone.
    static func unlink(_ path: String) {
        _ = Glibc.unlink(path)
    }

    static func eventFD() throws -> Int32 {
        let fd = pipebus_eventfd()
        if fd < 0 { throw SystemError(operation: "eventfd", path: nil, errno: Glibc.errno) }
        return fd
    }

    static func signalEventFD(_ fd: Int32) {
        var one: UInt64 = 1
        _ = withUnsafeBytes(of: &one) { Glibc.write(fd, $0.baseAddress, 8) }
    }

    static func drainEventFD(_ fd: Int32) {
        var value: UInt64 = 0
        _ = withUnsafeMutableBytes(of: &value) { Glibc.read(fd, $0.baseAddress, 8) }
    }

    /// An exclusive advisory lock, without waiting; false when another process holds it.
    static func tryLock(_ fd: Int32, path: String) throws -> Bool {
        while true {
            if pipebus_try_lock(fd) == 0 { return true }
            let code = Glibc.errno
            if code == EWOULDBLOCK { return false }
            if code != EINTR { throw SystemError(operation: "flock", path: path, errno: code) }
        }
    }

    static func setPipeSize(_ fd: Int32, _ size: Int) -> Int? {
        let result = pipebus_set_pipe_size(fd, Int32(clamping: size))
        return result > 0 ? Int(result) : nil
    }

    static func monotonicNanoseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }

    static func yield() { sched_yield() }

    static var effectiveUID: uid_t { geteuid() }

    /// SIGPIPE would kill the process on a write to a FIFO whose reader left; ignore it so the
    /// write returns EPIPE instead (DESIGN §6).
    static func ignoreSIGPIPE() {
        _ = signal(SIGPIPE, SIG_IGN)
    }
}
