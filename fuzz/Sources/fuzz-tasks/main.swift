import FuzzSupport
import PipeBusCore

// Every message decoder of the task service (pipebus.tasks.v1): byte 0 picks the message, the
// rest is its body. Invariants: no crash, no unbounded allocation, a stable round trip.

private let decoders: [@Sendable (UnsafeRawBufferPointer) -> Void] = [
    { checkRoundTrip(Tasks.TaskInfo.self, $0) },
    { checkRoundTrip(Tasks.TaskList.self, $0) },
    { checkRoundTrip(Tasks.SubmitRequest.self, $0) },
    { checkRoundTrip(Tasks.TaskRef.self, $0) },
    { checkRoundTrip(Tasks.ListRequest.self, $0) },
    { checkRoundTrip(Tasks.ClearStuckRequest.self, $0) },
    { checkRoundTrip(Tasks.ConfigMessage.self, $0) },
    { checkRoundTrip(Tasks.Empty.self, $0) },
    { checkRoundTrip(Tasks.WorkerStatus.self, $0) },
    { checkRoundTrip(Tasks.WatchRequest.self, $0) },
    { checkRoundTrip(Tasks.Event.self, $0) },
    { checkRoundTrip(Tasks.LeaseRequest.self, $0) },
    { checkRoundTrip(Tasks.FinishRequest.self, $0) },
    { checkRoundTrip(Tasks.WorkerReport.self, $0) },
]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTasks(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    var input = FuzzInput(data, count)
    decoders[Int(input.byte()) % decoders.count](input.rest)
    return 0
}
