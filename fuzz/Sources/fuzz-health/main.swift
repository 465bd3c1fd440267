import FuzzSupport
import PipeBusCore

// Every message decoder of the health service (pipebus.health.v1): byte 0 picks the message,
// the rest is its body. Invariants: no crash, no unbounded allocation, a stable round trip.

private let decoders: [@Sendable (UnsafeRawBufferPointer) -> Void] = [
    { checkRoundTrip(Health.CheckRequest.self, $0) },
    { checkRoundTrip(Health.CheckResponse.self, $0) },
    { checkRoundTrip(Health.ListServicesRequest.self, $0) },
    { checkRoundTrip(Health.ListServicesResponse.self, $0) },
]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHealth(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    var input = FuzzInput(data, count)
    decoders[Int(input.byte()) % decoders.count](input.rest)
    return 0
}
