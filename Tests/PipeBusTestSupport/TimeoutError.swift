/// A waited-for thing that did not happen in time: what was awaited, and for how long.
public struct TimeoutError: Error, CustomStringConvertible {
    public var what: String
    public var limit: Duration
    /// The last error the condition threw while it was polled, if any (often the real cause).
    public var lastError: String?

    public init(what: String, limit: Duration, lastError: String? = nil) {
        self.what = what
        self.limit = limit
        self.lastError = lastError
    }

    public var description: String {
        "timed out after \(limit) waiting for \(what)" + (lastError.map { "; last error: \($0)" } ?? "")
    }
}

/// A test-side failure with a message: a tool could not start, an answer could not be parsed.
public struct TestSupportError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
