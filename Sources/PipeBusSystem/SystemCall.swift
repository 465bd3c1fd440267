internal import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

// Helpers for the calls swift-system lacks (mkfifo, flock, renameat2, fsync, utimensat, poll,
// eventfd...): each extension in this module makes one such call through these, so that every
// failure is a `SystemCallError` naming the operation and path, and EINTR is retried where a
// retry is right.

/// Runs a C call that returns -1 and sets errno on failure, retrying EINTR; its result, or the
/// failure as a `SystemCallError`.
@inline(__always)
func systemCall(_ operation: String, path: FilePath? = nil, _ body: () -> Int32) throws -> Int32 {
    while true {
        let result = body()
        if result >= 0 { return result }
        let errno = Errno.latest
        if errno != .interrupted { throw SystemCallError(operation, path: path, errno: errno) }
    }
}

/// Runs one of swift-system's calls (which throw a bare `Errno`), naming its operation and path
/// in the failure.
@inline(__always)
func naming<Result>(_ operation: String, path: FilePath? = nil, _ body: () throws -> Result) throws -> Result {
    do {
        return try body()
    } catch let errno as Errno {
        throw SystemCallError(operation, path: path, errno: errno)
    }
}
