import PipeBusCore
import PipeBusSystem
import SystemPackage

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
        try translatingSystemErrors { try FilePath(path).makeDirectories(permissions: .ownerReadWriteExecute) }
        try check()
    }

    /// Refuses a directory that is a symlink, not ours, or open to others.
    public func check() throws {
        guard let info = try translatingSystemErrors({ try FilePath(path).lstat() }) else {
            throw RPCError(code: .unavailable, message: "pipe directory \(path) does not exist")
        }
        guard info.type == .directory else {
            throw RPCError(code: .permissionDenied, message: "pipe directory \(path) is not a directory (a symlink or file is refused)")
        }
        guard info.userID == effectiveUserID else {
            throw RPCError(code: .permissionDenied, message: "pipe directory \(path) is owned by uid \(info.userID.rawValue), not \(effectiveUserID.rawValue)")
        }
        guard info.permissions.isDisjoint(with: [.groupReadWriteExecute, .otherReadWriteExecute]) else {
            throw RPCError(code: .permissionDenied, message: "pipe directory \(path) has mode \(String(info.permissions.rawValue, radix: 8)); it must be 0700")
        }
    }

    /// Opens a FIFO safely and checks what was opened: a FIFO, owned by this user, private.
    static func openFIFO(_ path: String, writing: Bool) throws -> FileDescriptor {
        let fd = try translatingSystemErrors {
            try FilePath(path).open(writing ? .writeOnly : .readOnly, options: [.noFollow, .closeOnExec, .nonBlocking])
        }
        do {
            try verifyFIFO(fd, path: path)
            return fd
        } catch {
            fd.closeIgnoringErrors()
            throw error
        }
    }

    static func verifyFIFO(_ fd: FileDescriptor, path: String) throws {
        let info = try translatingSystemErrors { try fd.stat(path: FilePath(path)) }
        guard info.type == .fifo else {
            throw RPCError(code: .permissionDenied, message: "\(path) is not a FIFO; refusing it")
        }
        guard info.userID == effectiveUserID else {
            throw RPCError(code: .permissionDenied, message: "FIFO \(path) is owned by uid \(info.userID.rawValue), not \(effectiveUserID.rawValue)")
        }
        // 0600 whatever the umask was when it was made; fchmod acts on what was opened, not on
        // whatever the path might point to by now.
        if info.permissions != .ownerReadWrite {
            try translatingSystemErrors { try fd.setPermissions(.ownerReadWrite, path: FilePath(path)) }
        }
    }
}
