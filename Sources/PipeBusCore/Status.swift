/// The outcome of a call: a code and a human-readable message (any Unicode text).
public struct Status: Hashable, Sendable, CustomStringConvertible {
    public var code: StatusCode
    public var message: String

    public init(code: StatusCode, message: String = "") {
        self.code = code
        self.message = message
    }

    public static let ok = Status(code: .ok)

    public var description: String { message.isEmpty ? "\(code)" : "\(code): \(message)" }
}

extension Status {
    /// What a client is told when a handler throws `error`, on every transport.
    public init(handlerError error: any Error) {
        switch error {
        case let error as RPCError: self = error.status
        case is CancellationError: self.init(code: .cancelled, message: "the call was cancelled")
        default: self.init(code: .unknown, message: "\(error)")
        }
    }
}
