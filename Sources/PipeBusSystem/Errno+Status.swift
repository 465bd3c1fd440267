package import PipeBusCore
package import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

// The one errno-to-status mapping. Five used to disagree (the transport's, the spool's, and three
// that knew only ENOSPC); this is the spool's, the most complete, which the others were subsets of.
extension Errno {
    /// The status a caller sees for this errno: no space, quota or descriptors left is
    /// RESOURCE_EXHAUSTED; permissions and a refused symlink (O_NOFOLLOW's ELOOP) are
    /// PERMISSION_DENIED; EEXIST and ENOENT are ALREADY_EXISTS and NOT_FOUND; a name over
    /// NAME_MAX is INVALID_ARGUMENT; anything else (a read-only or failing disk, a peer gone)
    /// is UNAVAILABLE: worth retrying later or elsewhere.
    package var statusCode: StatusCode {
        switch self {
        case .noSpace, .diskQuotaExceeded, .tooManyOpenFiles, .tooManyOpenFilesInSystem: .resourceExhausted
        case .permissionDenied, .notPermitted, .tooManySymbolicLinkLevels: .permissionDenied
        case .fileExists: .alreadyExists
        case .noSuchFileOrDirectory: .notFound
        case .fileNameTooLong: .invalidArgument
        default: .unavailable
        }
    }

    /// What the errno means for a subject that failed ("spool disk full").
    package var summary: String {
        switch self {
        case .noSpace, .diskQuotaExceeded: "disk full"
        case .tooManyOpenFiles, .tooManyOpenFilesInSystem: "out of file descriptors"
        case .readOnlyFileSystem: "is read-only"
        case .permissionDenied, .notPermitted: "permission denied"
        case .tooManySymbolicLinkLevels: "refusing a symlink"
        case .fileExists: "already exists"
        case .noSuchFileOrDirectory: "not found"
        case .fileNameTooLong: "name too long"
        default: "I/O failed"
        }
    }

    /// `ENOSPC (errno 28)`, for an `RPCError`'s cause.
    package var cause: String { "\(symbolicName) (errno \(rawValue))" }

    /// The errno's C name where it is one a file or FIFO operation may meet; else `errno N`.
    package var symbolicName: String {
        Self.names[self] ?? "errno \(rawValue)"
    }

    private static let names: [Errno: String] = [
        .noSuchFileOrDirectory: "ENOENT", .fileExists: "EEXIST", .noSpace: "ENOSPC", .diskQuotaExceeded: "EDQUOT",
        .readOnlyFileSystem: "EROFS", .permissionDenied: "EACCES", .notPermitted: "EPERM",
        .tooManySymbolicLinkLevels: "ELOOP", .ioError: "EIO", .tooManyOpenFiles: "EMFILE",
        .tooManyOpenFilesInSystem: "ENFILE", .notDirectory: "ENOTDIR", .isDirectory: "EISDIR",
        .improperLink: "EXDEV", .invalidArgument: "EINVAL", .fileNameTooLong: "ENAMETOOLONG",
        .noSuchAddressOrDevice: "ENXIO", .brokenPipe: "EPIPE", .resourceTemporarilyUnavailable: "EAGAIN",
        .interrupted: "EINTR", .badFileDescriptor: "EBADF", .noFunction: "ENOSYS",
    ]

    /// The calling thread's errno, read at once after the failed call.
    package static var latest: Errno { Errno(rawValue: Glibc.errno) }
}
