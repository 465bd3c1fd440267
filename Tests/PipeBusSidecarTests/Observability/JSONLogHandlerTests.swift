import Foundation
import Logging
import PipeBusTasks
import Testing

@testable import PipeBusSidecar

@Suite("JSON log handler")
struct JSONLogHandlerTests {
    /// Logs through a handler writing into a pipe, then returns the lines it wrote.
    func lines(
        instance: String? = nil,
        _ body: (inout Logger) -> Void
    ) throws -> [String] {
        let pipe = Pipe()
        var logger = Logger(label: "test.logger") { label in
            JSONLogHandler(label: label, worker: "marie", instance: instance, fileHandle: pipe.fileHandleForWriting)
        }
        logger.logLevel = .trace
        body(&logger)
        try pipe.fileHandleForWriting.close()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.hasSuffix("\n"))
        return text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
    }

    func object(_ line: String) throws -> [String: Any] {
        let parsed = try JSONSerialization.jsonObject(with: Data(line.utf8))
        return try #require(parsed as? [String: Any], "not an object: \(line)")
    }

    @Test
    func oneObjectPerLineWithTheFixedKeysAndMetadataAtTopLevel() throws {
        let lines = try lines { logger in
            logger[metadataKey: "trace_id"] = "4bf92f3577b34da6a3ce929d0e0e4736"
            logger.info(
                "task finished",
                metadata: ["task_id": "task-123", "correlation_id": "corr-456", "attempts": "\(2)"]
            )
        }
        try #require(lines.count == 1)
        let object = try object(lines[0])
        #expect(object["level"] as? String == "info")
        #expect(object["msg"] as? String == "task finished")
        #expect(object["job"] as? String == "agent-orchestrator")
        #expect(object["worker"] as? String == "marie")
        #expect(object["logger"] as? String == "test.logger")
        #expect(object["task_id"] as? String == "task-123")
        #expect(object["correlation_id"] as? String == "corr-456")
        #expect(object["trace_id"] as? String == "4bf92f3577b34da6a3ce929d0e0e4736")
        #expect(object["attempts"] as? String == "2")
        #expect(object["instance"] == nil)
        let ts = try #require(object["ts"] as? String)
        #expect(ts.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z/) != nil, "\(ts)")
        var parser = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
        parser.timeZone = .gmt
        let parsed = try parser.parse(ts)
        #expect(abs(parsed.timeIntervalSinceNow) < 60)
    }

    @Test
    func everyStringIsEscaped() throws {
        let nasty = "quote \" backslash \\ newline \n tab \t cr \r bell \u{07} nul \u{00} é 日本 🚀 \u{2028}"
        let lines = try lines { logger in
            logger.warning(
                "\(nasty)",
                metadata: [nasty: .string(nasty), "list": [.string(nasty), "b"], "map": ["k\"": "v\n"]]
            )
        }
        try #require(lines.count == 1, "a raw newline split the line: \(lines)")
        let object = try object(lines[0])
        #expect(object["msg"] as? String == nasty)
        #expect(object[nasty] as? String == nasty)
        #expect(object["list"] as? [String] == [nasty, "b"])
        #expect(object["map"] as? [String: String] == ["k\"": "v\n"])
        #expect(object["level"] as? String == "warning")
    }

    @Test
    func metadataCannotShadowTheFixedKeys() throws {
        let lines = try lines(instance: "marie-2") { logger in
            logger.error("boom", metadata: ["worker": "evil", "msg": "other", "error": "disk full"])
        }
        let object = try object(try #require(lines.first))
        #expect(object["worker"] as? String == "marie")
        #expect(object["instance"] as? String == "marie-2")
        #expect(object["meta_worker"] as? String == "evil")
        #expect(object["msg"] as? String == "boom")
        #expect(object["meta_msg"] as? String == "other")
        #expect(object["error"] as? String == "disk full")
    }

    @Test
    func precedenceIsHandlerThenProviderThenCall() throws {
        let provider = Logger.MetadataProvider { ["correlation_id": "from-provider", "trace_id": "t-provider"] }
        let pipe = Pipe()
        var handler = JSONLogHandler(
            label: "p",
            worker: "w",
            fileHandle: pipe.fileHandleForWriting,
            metadataProvider: provider
        )
        handler.metadata = ["correlation_id": "from-handler", "task_id": "t-handler", "trace_id": "t-handler"]
        let configured = handler
        let logger = Logger(label: "p") { _ in configured }
        logger.info("x", metadata: ["trace_id": "t-call"])
        try pipe.fileHandleForWriting.close()
        let line = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let object = try object(line.trimmingCharacters(in: .newlines))
        #expect(object["task_id"] as? String == "t-handler")
        #expect(object["correlation_id"] as? String == "from-provider")
        #expect(object["trace_id"] as? String == "t-call")
    }

    @Test
    func concurrentLoggersNeverInterleaveLines() async throws {
        // A file rather than a pipe: a pipe would need a reader blocking a thread meanwhile.
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("pipebus-log-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: url.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: url) }
        let file = try FileHandle(forWritingTo: url)
        let factory = JSONLogHandler.factory(worker: "marie", fileHandle: file)
        await withTaskGroup(of: Void.self) { group in
            for writer in 0..<4 {
                group.addTask {
                    let logger = Logger(label: "writer-\(writer)", factory: factory)
                    let pad = String(repeating: "x", count: 200)
                    for index in 0..<500 {
                        logger.info("line", metadata: ["task_id": "\(writer)-\(index)", "pad": "\(pad)"])
                    }
                }
            }
        }
        try file.close()
        let lines = try String(contentsOf: url, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 2000)
        var seen = Set<String>()
        for line in lines {
            let object = try object(String(line))
            seen.insert(try #require(object["task_id"] as? String))
        }
        #expect(seen.count == 2000)
    }

    /// `ts` is the shared `Timestamp` with microseconds (its formats are tested in PipeBusTasksTests).
    @Test
    func timestampsAreUTCWithMicroseconds() throws {
        let text = JSONLineEncoder.now()
        #expect(text.utf8.count == "1970-01-01T00:00:00.000000Z".utf8.count && text.hasSuffix("Z"), "\(text)")
        #expect(Timestamp.parse(text) != nil, "\(text)")
    }
}
