/// The error every pipebus API throws: a status code, a message that says what went wrong
/// (naming the limit and the actual value where there is one), and the underlying cause if any.
public struct RPCError: Error, Hashable, Sendable, CustomStringConvertible {
    public var code: StatusCode
    public var message: String
    /// What failed underneath, e.g. an `Errno` or an LZ4 return code, for logs.
    public var cause: String?

    public init(code: StatusCode, message: String, cause: String? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    public var description: String {
        if let cause { return "\(code): \(message) (cause: \(cause))" }
        return "\(code): \(message)"
    }
}

extension RPCError {
    /// The status a server sends when a handler throws this error.
    public var status: Status { Status(code: code, message: message) }
}
