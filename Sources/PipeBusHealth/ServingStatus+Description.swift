/// The status as grpc.health.v1 spells it, as `pipebus health` prints it.
extension Pipebus_Health_V1_HealthCheckResponse.ServingStatus: CustomStringConvertible {
    public var description: String {
        switch self {
        case .unknown: "UNKNOWN"
        case .serving: "SERVING"
        case .notServing: "NOT_SERVING"
        case .serviceUnknown: "SERVICE_UNKNOWN"
        case .unrecognized(let value): "UNRECOGNIZED(\(value))"
        }
    }
}
