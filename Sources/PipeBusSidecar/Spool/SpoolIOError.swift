import PipeBusCore

#if canImport(Glibc)
import Glibc
#endif

/// A failed syscall inside the spool: which, on what path, and errno. Internal code decides on
/// `errno` (ENOENT on a claim is a lost race); the public API sees `rpcError`.
struct SpoolIOError: Error, CustomStringConvertible {
    var operation: String
    var path: SpoolPath?
    var errno: Int32

    var description: String {
        let reason = String(cString: strerror(errno))
        if let path { return "\(operation) \(path): \(reason)" }
        return "\(operation): \(reason)"
    }

    /// The errno's symbolic name where it is one the spool expects, for the `cause`.
    var errnoName: String {
        let names: [Int32: String] = [
            ENOENT: "ENOENT", EEXIST: "EEXIST", ENOSPC: "ENOSPC", EDQUOT: "EDQUOT", EROFS: "EROFS",
            EACCES: "EACCES", EPERM: "EPERM", ELOOP: "ELOOP", EIO: "EIO", EMFILE: "EMFILE", ENFILE: "ENFILE",
            ENOTDIR: "ENOTDIR", EISDIR: "EISDIR", EXDEV: "EXDEV", EINVAL: "EINVAL", ENAMETOOLONG: "ENAMETOOLONG",
        ]
        return names[errno] ?? "errno \(errno)"
    }

    /// The status a caller of the spool sees: disk full is RESOURCE_EXHAUSTED, a read-only or
    /// failing disk UNAVAILABLE, permissions PERMISSION_DENIED (DESIGN §6).
    var rpcError: RPCError {
        let cause = "\(errnoName) (errno \(errno))"
        let (code, prefix): (StatusCode, String) =
            switch errno {
            case ENOSPC, EDQUOT: (.resourceExhausted, "spool disk full")
            case EMFILE, ENFILE: (.resourceExhausted, "out of file descriptors")
            case EROFS: (.unavailable, "spool is read-only")
            case EACCES, EPERM: (.permissionDenied, "spool permission denied")
            case ELOOP: (.permissionDenied, "refusing a symlink in the spool")
            case EEXIST: (.alreadyExists, "already exists")
            case ENOENT: (.notFound, "not found")
            case ENAMETOOLONG: (.invalidArgument, "name too long")
            default: (.unavailable, "spool I/O failed")
            }
        return RPCError(code: code, message: "\(prefix): \(description)", cause: cause)
    }
}

/// Runs `body`, turning a `SpoolIOError` into the `RPCError` the public API promises.
func translatingSpoolErrors<Result>(_ body: () throws -> Result) throws -> Result {
    do {
        return try body()
    } catch let error as SpoolIOError {
        throw error.rpcError
    }
}
