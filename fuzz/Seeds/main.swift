// Writes the seed corpus: small, real frames and messages as pipebus sends them, one file per
// seed, under <corpus>/<target>/. Run by scripts/fuzz-seeds.sh; the output is committed.
import Foundation
import PipeBusCore
import PipeBusTasks
import PipeBusHealth

let root = CommandLine.arguments.count > 1 ? CommandLine.arguments[1] : "corpus"

func write(_ target: String, _ name: String, _ bytes: [UInt8]) {
    let directory = "\(root)/\(target)"
    try! FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    try! Data(bytes).write(to: URL(fileURLWithPath: "\(directory)/\(name)"))
}

func bytes(_ message: some MessageCodable) -> [UInt8] { message.serializedBytes() }

func envelopeBytes(_ envelope: Envelope) -> [UInt8] {
    var out: [UInt8] = []
    envelope.serialize(into: &out)
    return out
}

func frames(_ bodies: [[UInt8]], compressAbove threshold: Int? = nil) -> [UInt8] {
    var encoder = FrameEncoder(
        compression: threshold.map { CompressionPolicy(isEnabled: true, threshold: $0) } ?? .disabled
    )
    var out: [UInt8] = []
    for body in bodies { try! encoder.append(body: body, to: &out) }
    return out
}

let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
let hello = Hello(peerName: "orchestrator", pid: 4242)
var callMetadata: Metadata = [:]
callMetadata.add(MetadataKey.traceparent, traceparent)
callMetadata.add(MetadataKey.correlationID, "corr-123")
callMetadata.add("blob-bin", bytes: [0, 1, 2, 255])

let envelopes: [(String, Envelope)] = [
    ("hello", Envelope(streamID: 0, kind: .hello, hello: hello)),
    ("hello-ack", Envelope(streamID: 0, kind: .helloAck, hello: Hello(peerName: "sidecar marie", pid: 7))),
    ("ping", Envelope(streamID: 0, kind: .ping, pingData: 0xDEAD_BEEF)),
    ("goaway", Envelope(streamID: 7, kind: .goAway, status: Status(code: .unavailable, message: "draining"))),
    (
        "open-unary", Envelope(
            streamID: 1, kind: .open, endStream: true, method: Pipebus_Health_V1_Health.Method.Check.descriptor.fullName, metadata: callMetadata,
            timeoutMicros: 2_000_000, message: bytes(Pipebus_Health_V1_HealthCheckRequest(service: "pipebus.tasks.v1.Tasks"))
        )
    ),
    ("open-stream", Envelope(streamID: 3, kind: .open, method: "/pipebus.tasks.v1.Tasks/Lease")),
    ("message", Envelope(streamID: 3, kind: .message, message: Array("{\"prompt\":\"hi\"}".utf8))),
    ("message-empty", Envelope(streamID: 3, kind: .message, endStream: true, message: [])),
    (
        "close", Envelope(
            streamID: 1, kind: .close, endStream: true, metadata: ["grpc-status-details": "x"],
            message: bytes(Pipebus_Health_V1_HealthCheckResponse(status: .serving)), status: .ok
        )
    ),
    ("close-error", Envelope(streamID: 5, kind: .close, endStream: true, status: Status(code: .resourceExhausted, message: "too big"))),
    ("cancel", Envelope(streamID: 9, kind: .cancel, status: Status(code: .cancelled, message: "client gave up"))),
]

// Envelope bodies, and the same as frame streams (one frame each, and a whole conversation).
for (name, envelope) in envelopes {
    write("fuzz-envelope", name, envelopeBytes(envelope))
    // The frame decoder's input starts with two selector bytes: limit (3 = 4 MiB) and read size.
    write("fuzz-frame-decoder", name, [3, 63] + frames([envelopeBytes(envelope)]))
}
let conversation = envelopes.map { envelopeBytes($0.1) }
write("fuzz-frame-decoder", "conversation", [3, 255] + frames(conversation))
write("fuzz-frame-decoder", "conversation-drip", [2, 0] + frames(conversation))
let large = Envelope(streamID: 11, kind: .message, message: Array(repeating: 0x61, count: 3000) + Array(0..<255))
write("fuzz-frame-decoder", "compressed", [3, 127] + frames([envelopeBytes(large)], compressAbove: 64))
write("fuzz-frame-decoder", "over-limit", [0, 15] + frames([envelopeBytes(large)]))

// LZ4: compressed bodies (declared length + block) as the encoder makes them.
for (name, payload) in [
    ("text", Array(String(repeating: "the quick brown fox jumps over the lazy dog. ", count: 40).utf8)),
    ("zeros", [UInt8](repeating: 0, count: 2048)),
    ("envelope", envelopeBytes(large)),
] {
    let frame = frames([payload], compressAbove: 0)
    write("fuzz-lz4", name, Array(frame.dropFirst(FrameHeader.size)))
}
write("fuzz-lz4", "empty", [0, 0, 0, 0, 0])

// Connect records, framed as a client writes them to the connect FIFO.
for (name, id) in [("plain", "c4242-0123456789abcdef"), ("short", "a"), ("max", String(repeating: "x", count: 64))] {
    let record = ConnectRecord(connectionID: id, hello: hello)
    write("fuzz-connect-record", name, frames([bytes(record)]))
}
write(
    "fuzz-connect-record", "two-records",
    frames([bytes(ConnectRecord(connectionID: "one", hello: hello)), bytes(ConnectRecord(connectionID: "two", hello: Hello()))])
)

// Health messages: byte 0 picks the decoder (see fuzz-health/main.swift).
write("fuzz-health", "check-request", [0] + bytes(Pipebus_Health_V1_HealthCheckRequest(service: "pipebus.tasks.v1.Tasks")))
write("fuzz-health", "check-response", [1] + bytes(Pipebus_Health_V1_HealthCheckResponse(status: .notServing, message: "worker exited with status 3")))
write("fuzz-health", "list-request", [2] + bytes(Pipebus_Health_V1_ListServicesRequest()))
write("fuzz-health", "list-response", [3] + bytes(Pipebus_Health_V1_ListServicesResponse(services: ["", "pipebus.tasks.v1.Tasks"])))

// Task messages: byte 0 picks the decoder (see fuzz-tasks/main.swift).
let taskJSON = Array("{\"prompt\":\"summarise\",\"priority\":2}".utf8)
let info = Pipebus_Tasks_V1_Task(
    id: "task-123", state: .active, json: taskJSON, correlationID: "corr-1", traceparent: traceparent,
    attempts: 2, submittedAtMs: 1_700_000_000_000, modifiedAtMs: 1_700_000_005_000
)
let status = Pipebus_Tasks_V1_WorkerStatus(
    worker: "marie", instance: "marie-1", pid: 10, workerPid: 11, workerAlive: true, health: 1,
    pending: 3, active: 2, completed: 40, failed: 1, oldestActiveID: "task-123", oldestActiveAgeMs: 12_000
)
let taskSeeds: [(String, [UInt8])] = [
    ("task-info", [0] + bytes(info)),
    ("task-list", [1] + bytes(Pipebus_Tasks_V1_TaskList(tasks: [info, Pipebus_Tasks_V1_Task(id: "task-124", state: .pending)]))),
    ("submit", [2] + bytes(Pipebus_Tasks_V1_SubmitRequest(id: "task-125", json: taskJSON, correlationID: "corr-2"))),
    ("task-ref", [3] + bytes(Pipebus_Tasks_V1_TaskRef(id: "task-123", reason: "replay"))),
    ("list", [4] + bytes(Pipebus_Tasks_V1_ListRequest(state: .active, olderThanMs: 300_000, limit: 10))),
    ("clear-stuck", [5] + bytes(Pipebus_Tasks_V1_ClearStuckRequest(olderThanMs: 300_000, reason: "stuck"))),
    ("config", [6] + bytes(Pipebus_Tasks_V1_ConfigMessage(json: Array("{\"batch_size\":10}".utf8)))),
    ("empty", [7]),
    ("worker-status", [8] + bytes(status)),
    ("watch", [9] + bytes(Pipebus_Tasks_V1_WatchRequest(afterSeq: 17))),
    ("event-heartbeat", [10] + bytes(Pipebus_Tasks_V1_Event(seq: 18, timestampMs: 1_700_000_000_000, kind: .heartbeat, status: status))),
    (
        "event-transition",
        [10] + bytes(Pipebus_Tasks_V1_Event(seq: 19, kind: .transition, taskID: "task-123", fromState: .active, toState: .failed, error: "timeout"))
    ),
    ("lease", [11] + bytes(Pipebus_Tasks_V1_LeaseRequest(maxInFlight: 10))),
    ("finish", [12] + bytes(Pipebus_Tasks_V1_FinishRequest(id: "task-123", resultJson: Array("{\"ok\":true}".utf8)))),
    ("finish-failed", [12] + bytes(Pipebus_Tasks_V1_FinishRequest(id: "task-123", failed: true, error: "boom", retry: true))),
    ("worker-report", [13] + bytes(Pipebus_Tasks_V1_WorkerReport(claudeApiErrors: 2))),
]
for (name, seed) in taskSeeds { write("fuzz-tasks", name, seed) }

// Task files as the spool holds them (byte 0: length of the file name that follows).
func taskFile(_ name: String, _ json: String) -> [UInt8] { [UInt8(name.utf8.count)] + Array(name.utf8) + Array(json.utf8) }
write("fuzz-task-json", "submitted", taskFile("task-123", """
    {
      "_trace_context" : {
        "traceparent" : "\(traceparent)",
        "tracestate" : "vendor=1"
      },
      "attempts" : 1,
      "correlation_id" : "corr-1",
      "id" : "task-123",
      "prompt" : "summarise the incident",
      "submitted_at" : "2025-11-29T11:02:56.123Z"
    }

    """))
write("fuzz-task-json", "completed", taskFile("task-9", #"{"id":"task-9","attempts":3,"result":{"tokens":[1,2,3],"ok":true},"submitted_at":"2025-11-29T11:02:56Z"}"#))
write("fuzz-task-json", "failed", taskFile("task-8_replay", #"{"id":"task-8","error":"worker timed out after 300s","debug":true,"replay":true}"#))
write("fuzz-task-json", "numbers", taskFile("n", #"{"attempts":2.5,"big":1e308,"neg":-0,"u":"\u00e9\ud83d\ude00"}"#))
write("fuzz-task-json", "not-object", taskFile("x", "[1,2,3]"))
// Regression: this crashed the sidecar's claim (attempts + 1 overflowed) before TaskFile.countAttempt.
write("fuzz-task-json", "regress-attempts-int-max", taskFile("t", #"{"attempts":9223372036854775807}"#))
