/// Messages of the health service (`pipebus.health.v1`, grpc.health.v1 semantics).
public enum Health {
    /// The service's methods.
    public static let serviceName = "pipebus.health.v1.Health"
    public static let check = MethodDescriptor(service: serviceName, method: "Check")
    public static let watch = MethodDescriptor(service: serviceName, method: "Watch")
    public static let listServices = MethodDescriptor(service: serviceName, method: "ListServices")

    /// A service's serving status, as grpc.health.v1 defines it.
    public enum ServingStatus: UInt32, Hashable, Sendable, CustomStringConvertible {
        case unknown = 0
        case serving = 1
        case notServing = 2
        /// Watch only: the service is not known (yet).
        case serviceUnknown = 3

        public var description: String {
            switch self {
            case .unknown: "UNKNOWN"
            case .serving: "SERVING"
            case .notServing: "NOT_SERVING"
            case .serviceUnknown: "SERVICE_UNKNOWN"
            }
        }
    }

    public struct CheckRequest: Hashable, Sendable {
        /// "" asks about the whole server.
        public var service: String
        public init(service: String = "") { self.service = service }
    }

    public struct CheckResponse: Hashable, Sendable {
        public var status: ServingStatus
        /// Why, when not SERVING (a pipebus addition, field 1000).
        public var message: String
        public init(status: ServingStatus, message: String = "") {
            self.status = status
            self.message = message
        }
    }

    public struct ListServicesRequest: Hashable, Sendable {
        public init() {}
    }

    public struct ListServicesResponse: Hashable, Sendable {
        public var services: [String]
        public init(services: [String]) { self.services = services }
    }
}
