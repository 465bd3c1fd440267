import FuzzSupport
import PipeBusCore
import PipeBusTasks

// Every message decoder of the task service (pipebus.tasks.v1): byte 0 picks the message, the
// rest is its body. Invariants: no crash, no unbounded allocation, a stable round trip.

private let decoders: [@Sendable (UnsafeRawBufferPointer) -> Void] = [
    { checkRoundTrip(Pipebus_Tasks_V1_Task.self, $0) },
    { checkRoundTrip(Pipebus_Tasks_V1_TaskList.self, $0) },
    { checkRoundTrip(Pipebus_Tasks_V1_SubmitRequest.self, $0) },
    { checkRoundTrip(Pipebus_Tasks_V1_TaskRef.self, $0) },
    { checkRoundTrip(Pipebus_Tasks_V1_ListRequest.self, $0) },
    { checkRoundTrip(Pipebus_Tasks_V1_ClearStuckRequest.self, $0) },
    { checkRoundTrip(Pipebus_Tasks_V1_ConfigMessage.self, $0) },
    { checkRoundTrip(Pipebus_Tasks_V1_Empty.self, $0) },
    { checkRoundTrip(Pipebus_Tasks_V1_WorkerStatus.self, $0) },
    { checkRoundTrip(Pipebus_Tasks_V1_WatchRequest.self, $0) },
    { checkRoundTrip(Pipebus_Tasks_V1_Event.self, $0) },
    { checkRoundTrip(Pipebus_Tasks_V1_LeaseRequest.self, $0) },
    { checkRoundTrip(Pipebus_Tasks_V1_FinishRequest.self, $0) },
    { checkRoundTrip(Pipebus_Tasks_V1_WorkerReport.self, $0) },
]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTasks(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    var input = FuzzInput(data, count)
    decoders[Int(input.byte()) % decoders.count](input.rest)
    return 0
}
