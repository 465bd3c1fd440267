import PipeBusCore
import PipeBusSystem
import Synchronization
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// An exclusive `flock` on a file, held until `release()` or the process ends (the kernel drops
/// it when the holder dies, however it dies): the instance lock, the worker's leader lock, a
/// dead instance's lock taken to reap its leases.
final class FileLock: Sendable {
    let path: String
    private let fd: FileDescriptor
    private let recordsHolder = Mutex(false)

    private init(path: String, fd: FileDescriptor) {
        self.path = path
        self.fd = fd
    }

    /// Takes the lock, trying again every 20 ms for up to `patience`; nil if someone else holds
    /// it all that time, or as soon as `giveUp` (asked after each failed try) says to stop
    /// waiting. Throws if the lock file cannot be opened.
    static func acquire(_ path: String, patience: Duration = .zero, giveUp: () -> Bool = { false }) throws -> FileLock? {
        try translatingSystemErrors {
            let file = FilePath(path)
            let fd = try file.open(.readWrite, options: [.create, .closeOnExec, .noFollow], permissions: .ownerReadWrite)
            let deadline = ContinuousClock.now + patience
            do {
                while try !fd.tryLock(path: file) {
                    guard ContinuousClock.now < deadline, !giveUp() else {
                        fd.closeIgnoringErrors()
                        return nil
                    }
                    usleep(20_000)
                }
            } catch {
                fd.closeIgnoringErrors()
                throw error
            }
            return FileLock(path: path, fd: fd)
        }
    }

    /// Releases the lock; only once. A holder it recorded is erased first, so that the file
    /// never names a process that no longer holds it.
    func release() {
        if recordsHolder.withLock({ $0 }) { _ = try? fd.resize(to: 0) }
        fd.closeIgnoringErrors()
    }

    /// Writes `holder` into the lock file (`<pid> <start ticks> <boot id>`): the owner of an
    /// instance does, so that a second sidecar can tell it from a peer that holds the lock for
    /// a moment (to reap leases) and fail at once rather than wait.
    func record(holder: ProcessIdentity) {
        fd.replaceContents(with: Array("\(holder.pid) \(holder.startTicks) \(holder.bootID)\n".utf8))
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
