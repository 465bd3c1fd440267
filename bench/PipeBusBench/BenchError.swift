import Glibc

/// Why a benchmark could not run: a message, and the errno when a syscall failed.
struct BenchError: Error, CustomStringConvertible {
    var message: String
    var errno: Int32?

    init(_ message: String, errno: Int32? = nil) {
        self.message = message
        self.errno = errno
    }

    var description: String {
        guard let errno else { return message }
        return "\(message): \(String(cString: strerror(errno)))"
    }
}
