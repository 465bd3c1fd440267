/// Names one method of one service, as gRPC does: `/package.Service/Method` on the wire.
public struct MethodDescriptor: Hashable, Sendable, CustomStringConvertible {
    public var service: String
    public var method: String

    public init(service: String, method: String) {
        self.service = service
        self.method = method
    }

    /// The name in an OPEN envelope, e.g. `/pipebus.health.v1.Health/Check`.
    public var fullName: String { "/\(service)/\(method)" }

    public var description: String { fullName }
}
