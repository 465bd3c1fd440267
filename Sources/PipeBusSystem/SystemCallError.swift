package import PipeBusCore
package import SystemPackage

/// A failed syscall: which, on what path, and the errno.
///
/// Code that decides on the errno (ENOENT on a claim is a lost race, EEXIST a rival's) catches
/// this; callers of the public API see `rpcError`, whose code comes from the one mapping
/// (`Errno.statusCode`).
package struct SystemCallError: Error, Hashable, Sendable, CustomStringConvertible {
    package var operation: String
    package var path: FilePath?
    package var errno: Errno

    package init(_ operation: String, path: FilePath? = nil, errno: Errno) {
        self.operation = operation
        self.path = path
        self.errno = errno
    }

    /// `open /x/y: No such file or directory (errno 2)`: the path with control characters escaped,
    /// so that a hostile name cannot forge a log line.
    package var description: String {
        let reason = "\(errno) (errno \(errno.rawValue))"
        if let path { return "\(operation) \(path.printable): \(reason)" }
        return "\(operation): \(reason)"
    }

    /// The failure as the status a caller sees. With a `subject` ("spool"), the message leads
    /// with what that means for it (`spool disk full: write …`); without, it is the description.
    package func rpcError(subject: String? = nil) -> RPCError {
        let message = subject.map { "\($0) \(errno.summary): \(description)" } ?? description
        return RPCError(code: errno.statusCode, message: message, cause: errno.cause)
    }

    /// The failure as the status a caller sees, `message` saying what it broke ("reading the
    /// connection failed").
    package func rpcError(_ message: String) -> RPCError {
        RPCError(code: errno.statusCode, message: "\(message): \(description)", cause: errno.cause)
    }
}

/// Runs `body`, turning a `SystemCallError` into the `RPCError` the public API promises.
package func translatingSystemErrors<Result>(subject: String? = nil, _ body: () throws -> Result) throws -> Result {
    do {
        return try body()
    } catch let error as SystemCallError {
        throw error.rpcError(subject: subject)
    }
}
