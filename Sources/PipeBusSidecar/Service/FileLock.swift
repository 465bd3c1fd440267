internal import CPipeBusShim
import PipeBusCore

#if canImport(Glibc)
import Glibc
#endif

/// An exclusive `flock` on a file, held until `release()` or the process ends (the kernel drops
/// it when the holder dies, however it dies): the instance lock, the worker's leader lock, a
/// dead instance's lock taken to reap its leases.
final class FileLock: Sendable {
    let path: String
    private let fd: Int32

    private init(path: String, fd: Int32) {
        self.path = path
        self.fd = fd
    }

    /// Takes the lock, trying again every 20 ms for up to `patience`; nil if someone else holds
    /// it all that time. Throws if the lock file cannot be opened.
    static func acquire(_ path: String, patience: Duration = .zero) throws -> FileLock? {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else {
            let code = errno
            throw RPCError(
                code: code == ENOSPC ? .resourceExhausted : .unavailable,
                message: "cannot open lock file \(path): \(String(cString: strerror(code)))"
            )
        }
        let deadline = ContinuousClock.now + patience
        while true {
            if pipebus_try_lock(fd) == 0 { return FileLock(path: path, fd: fd) }
            let code = errno
            if code == EINTR { continue }
            guard code == EWOULDBLOCK, ContinuousClock.now < deadline else {
                close(fd)
                if code == EWOULDBLOCK { return nil }
                throw RPCError(code: .unavailable, message: "cannot lock \(path): \(String(cString: strerror(code)))")
            }
            usleep(20_000)
        }
    }

    /// Releases the lock; only once.
    func release() {
        close(fd)
    }
}
