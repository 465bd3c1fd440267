#if canImport(Glibc)
import Glibc
#endif
import PipeBusCore

/// The private directory that holds one server's FIFOs: its well-known connect FIFO, its lock,
/// and each connection's pair (`<id>.c2s`, `<id>.s2c`), created by the client.
///
/// The directory is 0700 and owned by the server's user; every FIFO in it is 0600, opened with
/// `O_NOFOLLOW | O_CLOEXEC`, and checked with `fstat` to be a FIFO owned by that user. A symlink
/// or a regular file where a FIFO should be is refused and left untouched (DESIGN §6).
public struct PipeDirectory: Hashable, Sendable {
    public let path: String

    public init(path: String) {
        self.path = path
    }

    /// The FIFO clients write connect records to.
    public var connectFIFO: String { path + "/connect" }
    /// The server's lock: one server per directory.
    public var lockFile: String { path + "/server.lock" }

    func clientToServer(_ id: String) -> String { "\(path)/\(id).c2s" }
    func serverToClient(_ id: String) -> String { "\(path)/\(id).s2c" }

    /// Creates the directory (0700) and its parents (0755) if missing, and checks that it is a
    /// real directory owned by this user that no one else can enter.
    public func prepare() throws {
        var partial = ""
        for component in path.split(separator: "/", omittingEmptySubsequences: true) {
            partial += "/" + component
            try rethrowing { try Sys.mkdir(partial, mode: partial == path ? 0o700 : 0o755) }
        }
        try check()
    }

    /// Refuses a directory that is a symlink, not ours, or open to others.
    public func check() throws {
        guard let info = try rethrowing(code: .unavailable, { try Sys.lstat(path) }) else {
            throw RPCError(code: .unavailable, message: "pipe directory \(path) does not exist")
        }
        guard info.st_mode & S_IFMT == S_IFDIR else {
            throw RPCError(code: .permissionDenied, message: "pipe directory \(path) is not a directory (a symlink or file is refused)")
        }
        guard info.st_uid == Sys.effectiveUID else {
            throw RPCError(code: .permissionDenied, message: "pipe directory \(path) is owned by uid \(info.st_uid), not \(Sys.effectiveUID)")
        }
        guard info.st_mode & 0o077 == 0 else {
            throw RPCError(code: .permissionDenied, message: "pipe directory \(path) has mode \(String(info.st_mode & 0o777, radix: 8)); it must be 0700")
        }
    }

    /// Opens a FIFO safely and checks what was opened: a FIFO, owned by this user, private.
    static func openFIFO(_ path: String, writing: Bool) throws -> Int32 {
        let fd = try rethrowing { try Sys.open(path, (writing ? O_WRONLY : O_RDONLY) | Sys.fifoOpenFlags) }
        do {
            try verifyFIFO(fd, path: path)
            return fd
        } catch {
            Sys.close(fd)
            throw error
        }
    }

    static func verifyFIFO(_ fd: Int32, path: String) throws {
        let info = try rethrowing { try Sys.fstat(fd) }
        guard info.st_mode & S_IFMT == S_IFIFO else {
            throw RPCError(code: .permissionDenied, message: "\(path) is not a FIFO; refusing it")
        }
        guard info.st_uid == Sys.effectiveUID else {
            throw RPCError(code: .permissionDenied, message: "FIFO \(path) is owned by uid \(info.st_uid), not \(Sys.effectiveUID)")
        }
        // 0600 whatever the umask was when it was made; fchmod acts on what was opened, not on
        // whatever the path might point to by now.
        if info.st_mode & 0o777 != 0o600 { try rethrowing { try Sys.fchmod(fd, 0o600) } }
    }
}

/// Turns a `SystemError` into an `RPCError` at the transport boundary.
func rethrowing<Result>(code: StatusCode = .unavailable, _ body: () throws -> Result) throws -> Result {
    do {
        return try body()
    } catch let error as SystemError {
        let code: StatusCode = switch error.errno {
        case EACCES, EPERM, ELOOP: .permissionDenied
        case ENOSPC, EDQUOT, EMFILE, ENFILE: .resourceExhausted
        default: code
        }
        throw RPCError(code: code, message: error.description, cause: "errno \(error.errno)")
    }
}
