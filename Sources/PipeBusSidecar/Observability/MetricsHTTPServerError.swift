/// Why the metrics HTTP server could not start.
public struct MetricsHTTPServerError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What kind of failure; a struct rather than an enum so codes can be added.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }

        /// Another socket already listens on the address (EADDRINUSE).
        public static let addressInUse = Code("address in use")
        /// The address could not be bound for another reason (bad host, permission, …).
        public static let bindFailed = Code("bind failed")
        /// `start` was called on a server that is already starting or running.
        public static let alreadyStarted = Code("already started")
        /// The server was shut down, before or while it started.
        public static let shutDown = Code("shut down")

        public var description: String { name }
    }

    public var code: Code
    public var message: String
    /// What failed underneath (the socket error), for logs.
    public var cause: String?

    public init(code: Code, message: String, cause: String? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    public var description: String {
        if let cause { return "\(code): \(message) (cause: \(cause))" }
        return "\(code): \(message)"
    }
}
