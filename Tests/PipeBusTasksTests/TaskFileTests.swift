import Foundation
import PipeBusTasks
import Testing

/// A task file through its one definition: the files the spool wrote before it existed
/// (`Fixtures/task-*.json`, from a running sidecar: one submitted over the pipe, one dropped
/// into `pending/` and adopted) read and write back byte for byte, the user's keys untouched.
@Suite struct TaskFileTests {
    @Test(arguments: ["task-submitted.json", "task-adopted.json"])
    func theSpoolsFileRoundTripsByteForByte(_ name: String) throws {
        let bytes = try fixture(name)
        #expect(try TaskFile.encode(try TaskFile.parseObject(bytes)) == bytes)
    }

    @Test func readsTheSidecarsKeys() throws {
        let object = try TaskFile.parseObject(try fixture("task-submitted.json"))
        let file = TaskFile(object: object)
        #expect(file.id == "task-fixture-1")
        #expect(file.correlationID == "corr-0ab47f9d8b7131147cce520e77c11631")
        #expect(file.traceContext?.traceparent == "00-8e2757669798f8672daac93f7d29c226-51755fda8ba569bc-01")
        #expect(file.traceContext?.traceID == "8e2757669798f8672daac93f7d29c226")
        #expect(file.submittedAt == "2026-12-03T16:53:55.454Z")
        #expect(file.submittedAtDate.map { Timestamp.iso8601($0) } == "2026-12-03T16:53:55.454Z")
        #expect(file.attempts == 0)
        #expect(!file.hasResult && !file.hasError)
        #expect(object["prompt"] as? String == "héllo/x")
        // The same keys through Codable, from the text.
        let decoded = try JSONDecoder().decode(TaskFile.self, from: Data(try fixture("task-submitted.json")))
        #expect(decoded == file)
    }

    @Test func aFailedTasksError() throws {
        let text = #"{"id": "t", "error": {"code": 7}, "error_kind": "claude_api", "result": null}"#
        let file = TaskFile(object: try TaskFile.parseObject(Array(text.utf8)))
        #expect(file.hasError && file.hasResult)
        #expect(file.errorMessage == nil)
        #expect(file.error?.contains("7") == true)
        #expect(file.errorKind == TaskFile.ErrorKind.claudeAPI)
        let plain = TaskFile(object: ["error": "timed out"])
        #expect(plain.error == "timed out" && plain.errorMessage == "timed out")
    }

    /// Keys of the wrong type read as missing; they never crash a reader.
    @Test func wrongTypesReadAsMissing() throws {
        let text = #"{"id": 5, "correlation_id": [], "_trace_context": "x", "submitted_at": 3, "attempts": "many"}"#
        let file = TaskFile(object: try TaskFile.parseObject(Array(text.utf8)))
        #expect(file == TaskFile())
        #expect(try JSONDecoder().decode(TaskFile.self, from: Data(text.utf8)) == TaskFile())
    }

    @Test(arguments: ["[1]", "\"x\"", "null", "{", ""])
    func onlyAnObjectIsATask(_ text: String) {
        #expect(throws: TaskFile.Problem.self) { try TaskFile.parseObject(Array(text.utf8)) }
    }

    /// Submit: the sidecar's keys set, the user's kept, an old result or error dropped.
    @Test func stampingASubmittedTask() throws {
        var object: [String: Any] = ["prompt": "hi", "result": "old", "error": "old", "correlation_id": 7]
        let now = Date(timeIntervalSince1970: 1_796_316_824.002)
        TaskFile.stampNew(&object, id: "task-1", traceContext: TraceContext(traceparent: "00-a-b-01"), now: now, resetting: true)
        let file = TaskFile(object: object)
        #expect(file.id == "task-1")
        #expect(file.correlationID?.hasPrefix("corr-") == true)
        #expect(file.traceContext == TraceContext(traceparent: "00-a-b-01"))
        #expect(file.submittedAt == "2026-12-03T16:53:44.002Z")
        #expect(file.attempts == 0)
        #expect(!file.hasResult && !file.hasError)
        #expect(object["prompt"] as? String == "hi")
    }

    /// A file dropped into pending/: what it has is kept; what it lacks, the sidecar adds.
    @Test func stampingADroppedTaskKeepsWhatItHas() throws {
        var object: [String: Any] = [
            "correlation_id": "incident-42", "submitted_at": "2020-01-01T00:00:00Z", "attempts": 3,
            "_trace_context": ["traceparent": "00-c-d-01"],
        ]
        var traced = 0
        TaskFile.stampNew(&object, id: "t", freshTrace: { traced += 1; return nil }, resetting: false)
        let file = TaskFile(object: object)
        #expect(file.correlationID == "incident-42")
        #expect(file.submittedAt == "2020-01-01T00:00:00Z")
        #expect(file.attempts == 3)
        #expect(file.traceContext?.traceparent == "00-c-d-01")
        #expect(traced == 0)
        var bare: [String: Any] = ["prompt": "x"]
        TaskFile.stampNew(&bare, id: "u", freshTrace: { TraceContext(traceparent: "00-e-f-01") }, resetting: false)
        let stamped = TaskFile(object: bare)
        #expect(stamped.correlationID?.hasPrefix("corr-") == true)
        #expect(stamped.traceContext?.traceparent == "00-e-f-01")
        #expect(stamped.attempts == 0 && stamped.submittedAtDate != nil)
    }

    @Test func attemptsSaturate() {
        var object: [String: Any] = ["attempts": Int.max]
        TaskFile.countAttempt(in: &object)
        #expect(object["attempts"] as? Int == Int.max)
        var negative: [String: Any] = ["attempts": -4]
        TaskFile.countAttempt(in: &negative)
        #expect(negative["attempts"] as? Int == 1)
    }
}
