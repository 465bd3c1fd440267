/// Names one method of one service, as gRPC does: `/package.Service/Method` on the wire.
public struct MethodDescriptor: Hashable, Sendable, CustomStringConvertible {
    public let service: String
    public let method: String
    /// The name in an OPEN envelope, e.g. `/pipebus.health.v1.Health/Check`; built once, since
    /// every call sends it.
    public let fullName: String

    public init(service: String, method: String) {
        self.service = service
        self.method = method
        self.fullName = "/\(service)/\(method)"
    }

    public var description: String { fullName }
}
