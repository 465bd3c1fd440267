import Foundation
import PipeBusCore
import PipeBusTasks
import PipeBusTestSupport
import Testing

@testable import PipeBusSidecar

#if canImport(Glibc)
import Glibc
#endif

@Suite("TaskSpool submit")
struct TaskSpoolSubmitTests {
    @Test("init creates the four state folders and the quarantine, 0755")
    func createsFolders() throws {
        try withSpool { spool, _ in
            for state in TaskState.allCases {
                var info = stat()
                #expect(lstat(spool.layout.directory(for: state), &info) == 0)
                #expect(info.st_mode & S_IFMT == S_IFDIR)
                #expect(info.st_mode & 0o777 == 0o755)
            }
            #expect(FileManager.default.fileExists(atPath: spool.layout.quarantineDirectory))
        }
    }

    @Test("a state folder replaced by a symlink is refused")
    func refusesSymlinkedFolder() throws {
        try withTemporaryDirectory { root in
            try FileManager.default.createDirectory(atPath: "\(root)/tasks/marie", withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: "\(root)/elsewhere", withIntermediateDirectories: true)
            #expect(symlink("\(root)/elsewhere", "\(root)/tasks/marie/pending") == 0)
            expectRPCError(.failedPrecondition) {
                _ = try TaskSpool(root: root, worker: "marie", logger: LogRecorder().logger)
            }
        }
    }

    @Test("a worker name that is not one path component is refused", arguments: ["", "../x", "a/b", ".q"])
    func refusesBadWorker(_ worker: String) throws {
        try withTemporaryDirectory { root in
            expectRPCError(.invalidArgument) {
                _ = try TaskSpool(root: root, worker: worker, logger: LogRecorder().logger)
            }
        }
    }

    @Test("submit is durable: the file is in pending/, owned keys set, user keys kept, no temp left")
    func submitDurable() throws {
        try withSpool { spool, _ in
            let user: [String: Any] = [
                "prompt": "summarise", "options": ["depth": 3, "tags": ["a", "b"]], "flag": false,
            ]
            let trace = TraceContext(
                traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                tracestate: "k=v"
            )
            let record = try spool.submit(object: user, correlationID: "corr-456", traceContext: trace)

            let path = spool.layout.path(of: record.id, in: .pending)
            #expect(try entries(spool.layout.directory(for: .pending)) == [record.id.fileName])
            let onDisk = try readObject(path)
            #expect(onDisk["prompt"] as? String == "summarise")
            #expect((onDisk["options"] as? [String: Any])?["depth"] as? Int == 3)
            #expect((onDisk["options"] as? [String: Any])?["tags"] as? [String] == ["a", "b"])
            #expect(onDisk["flag"] as? Bool == false)
            #expect(onDisk["id"] as? String == record.id.rawValue)
            #expect(onDisk["correlation_id"] as? String == "corr-456")
            #expect(onDisk["attempts"] as? Int == 0)
            let context = try #require(onDisk["_trace_context"] as? [String: Any])
            #expect(context["traceparent"] as? String == trace.traceparent)
            #expect(context["tracestate"] as? String == "k=v")
            let submittedAt = try #require(onDisk["submitted_at"] as? String)
            #expect(submittedAt.hasSuffix("Z"))
            #expect(try abs(#require(record.submittedAt).timeIntervalSinceNow) < 60)

            #expect(record.state == .pending)
            #expect(record.correlationID == "corr-456")
            #expect(record.traceContext == trace)
            #expect(record.attempts == 0)
            #expect(!record.hasResult && !record.hasError)
            #expect(record.json == Array(try Data(contentsOf: URL(fileURLWithPath: path))))
            #expect(try spool.get(record.id) == record)
        }
    }

    @Test("the id comes from the argument, else from the object, else is generated")
    func idSources() throws {
        try withSpool { spool, _ in
            #expect(try spool.submit(object: ["id": "task-123"]).id.rawValue == "task-123")
            #expect(try spool.submit(object: ["id": "task-9"], id: TaskID("task-10")).id.rawValue == "task-10")
            let generated = try spool.submit(object: ["x": 1])
            #expect(generated.id.rawValue.hasPrefix("task-"))
            #expect(generated.correlationID?.hasPrefix("corr-") == true)
            expectRPCError(.invalidArgument) { try spool.submit(object: ["id": "../etc/passwd"]) }
        }
    }

    @Test("an id that exists in any state is ALREADY_EXISTS")
    func duplicate() throws {
        try withSpool { spool, _ in
            let id = try TaskID("task-1")
            try spool.submit(object: [:], id: id)
            expectRPCError(.alreadyExists) { try spool.submit(object: [:], id: id) }
            try spool.claim(id)
            try spool.complete(id, result: "ok")
            expectRPCError(.alreadyExists) { try spool.submit(object: [:], id: id) }
            #expect(try entries(spool.layout.directory(for: .pending)).isEmpty)
        }
    }

    @Test(
        "JSON that is not an object is INVALID_ARGUMENT",
        arguments: ["[1,2]", "\"text\"", "42", "null", "nope", "{\"a\":"]
    )
    func rejectsNonObject(_ text: String) throws {
        try withSpool { spool, _ in
            expectRPCError(.invalidArgument) { try spool.submit(json: Array(text.utf8)) }
            let left = try entries(spool.layout.directory(for: .pending))
            #expect(left.isEmpty)
        }
    }

    @Test("JSON bytes are accepted and kept")
    func submitJSONBytes() throws {
        try withSpool { spool, _ in
            let record = try spool.submit(json: Array(#"{"prompt": "hi", "n": 2, "correlation_id": "corr-x"}"#.utf8))
            let object = try record.object()
            #expect(object["prompt"] as? String == "hi")
            #expect(object["n"] as? Int == 2)
            #expect(record.correlationID == "corr-x")
        }
    }

    @Test("a task over the size limit is RESOURCE_EXHAUSTED and nothing is written")
    func tooLarge() throws {
        var configuration = TaskSpool.Configuration.defaults
        configuration.maxTaskBytes = 1024
        try withSpool(configuration: configuration) { spool, _ in
            let error = expectRPCError(.resourceExhausted) {
                try spool.submit(object: ["blob": String(repeating: "x", count: 2000)])
            }
            #expect(error?.message.contains("1024") == true)
            let left = try entries(spool.layout.directory(for: .pending))
            #expect(left.isEmpty)
        }
    }

    @Test("counts and list see task files only, oldest first, with a limit and an age filter")
    func countsAndList() throws {
        let clock = TestClock()
        try withSpool(configuration: clock.configuration) { spool, _ in
            let ids = try (1...3).map { try TaskID("t\($0)") }
            // Submitted 600 s, 300 s and 0 s ago by the spool's clock.
            for id in [ids[2], ids[0], ids[1]] {
                try spool.submit(object: [:], id: id)
                clock.advance(by: .seconds(300))
            }
            clock.advance(by: .seconds(-300))
            try writeByHand(spool.layout.directory(for: .pending) + "/notes.txt", "hello")
            try writeByHand(spool.layout.directory(for: .pending) + "/.hidden.json", "{}")
            #expect(try spool.counts() == [.pending: 3, .active: 0, .completed: 0, .failed: 0])
            #expect(try spool.list(.pending).map(\.id) == [ids[2], ids[0], ids[1]])
            #expect(try spool.list(.pending, limit: 1).map(\.id) == [ids[2]])
            #expect(try spool.list(.pending, olderThan: .seconds(120)).map(\.id) == [ids[2], ids[0]])
        }
    }

    @Test("remove deletes a task durably; a missing one is NOT_FOUND")
    func remove() throws {
        try withSpool { spool, _ in
            let id = try TaskID("gone")
            try spool.submit(object: [:], id: id)
            try spool.remove(id)
            #expect(try spool.get(id) == nil)
            expectRPCError(.notFound) { try spool.remove(id) }
        }
    }
}
