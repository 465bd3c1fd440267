internal import CPipeBusShim
import PipeBusCore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// An exclusive `flock` on a file, held until `release()` or the process ends (the kernel drops
/// it when the holder dies, however it dies): the instance lock, the worker's leader lock, a
/// dead instance's lock taken to reap its leases.
final class FileLock: Sendable {
    let path: String
    private let fd: Int32
    private let recordsHolder = Mutex(false)

    private init(path: String, fd: Int32) {
        self.path = path
        self.fd = fd
    }

    /// Takes the lock, trying again every 20 ms for up to `patience`; nil if someone else holds
    /// it all that time, or as soon as `giveUp` (asked after each failed try) says to stop
    /// waiting. Throws if the lock file cannot be opened.
    static func acquire(_ path: String, patience: Duration = .zero, giveUp: () -> Bool = { false }) throws -> FileLock? {
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
            guard code == EWOULDBLOCK, ContinuousClock.now < deadline, !giveUp() else {
                close(fd)
                if code == EWOULDBLOCK { return nil }
                throw RPCError(code: .unavailable, message: "cannot lock \(path): \(String(cString: strerror(code)))")
            }
            usleep(20_000)
        }
    }

    /// Releases the lock; only once. A holder it recorded is erased first, so that the file
    /// never names a process that no longer holds it.
    func release() {
        if recordsHolder.withLock({ $0 }) { _ = ftruncate(fd, 0) }
        close(fd)
    }

    /// Writes `holder` into the lock file (`<pid> <start ticks> <boot id>`): the owner of an
    /// instance does, so that a second sidecar can tell it from a peer that holds the lock for
    /// a moment (to reap leases) and fail at once rather than wait.
    func record(holder: ProcessIdentity) {
        let line = Array("\(holder.pid) \(holder.startTicks) \(holder.bootID)\n".utf8)
        _ = ftruncate(fd, 0)
        _ = line.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        recordsHolder.withLock { $0 = true }
    }

    /// The holder recorded in the lock file at `path`, if any.
    static func recordedHolder(of path: String) -> ProcessIdentity? {
        guard let bytes = try? SmallFile.read(path, limit: 4096) else { return nil }
        let fields = String(decoding: bytes, as: UTF8.self).split(whereSeparator: { $0 == " " || $0 == "\n" })
        guard fields.count == 3, let pid = Int32(fields[0]), let startTicks = UInt64(fields[1]) else { return nil }
        return ProcessIdentity(pid: pid, startTicks: startTicks, bootID: String(fields[2]))
    }
}
