import FuzzSupport
import PipeBusCore
import PipeBusHealth

// Every message decoder of the health service (pipebus.health.v1): byte 0 picks the message,
// the rest is its body. Invariants: no crash, no unbounded allocation, a stable round trip.

private let decoders: [@Sendable (UnsafeRawBufferPointer) -> Void] = [
    { checkRoundTrip(Pipebus_Health_V1_HealthCheckRequest.self, $0) },
    { checkRoundTrip(Pipebus_Health_V1_HealthCheckResponse.self, $0) },
    { checkRoundTrip(Pipebus_Health_V1_ListServicesRequest.self, $0) },
    { checkRoundTrip(Pipebus_Health_V1_ListServicesResponse.self, $0) },
]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHealth(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    var input = FuzzInput(data, count)
    decoders[Int(input.byte()) % decoders.count](input.rest)
    return 0
}
