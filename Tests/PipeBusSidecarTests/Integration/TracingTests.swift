import Foundation
import PipeBusCore
import PipeBusTestSupport
import Testing
import PipeBusTasks

#if canImport(Glibc)
import Glibc
#endif

/// Issue 8: a task's trace, exported over OTLP/HTTP by a real sidecar (swift-otel), decoded by
/// a real receiver (`scripts/otlp-receiver.py`, opentelemetry-proto from PyPI).
@Suite("Sidecar integration: traces over OTLP", .serialized)
struct TracingTests {
    /// The repository, from this file's path.
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path

    /// `scripts/otlp-receiver.py` in the tests' venv, appending each span it decodes to a file.
    final class Receiver: Sendable {
        let process: ChildProcess
        let port: Int
        let spansPath: String

        init(root: Integration.Root) async throws {
            let python = ProcessInfo.processInfo.environment["PIPEBUS_TEST_VENV"].map { "\($0)/bin/python" }
                ?? "\(TracingTests.repository)/.build/test-venv/bin/python"
            guard FileManager.default.isExecutableFile(atPath: python) else {
                throw Integration.Failure("no Python with opentelemetry-proto at \(python): run scripts/install-test-python.sh (make test does)")
            }
            spansPath = "\(root.path)/spans.jsonl"
            let process = try ChildProcess(
                [python, "\(TracingTests.repository)/scripts/otlp-receiver.py", "--port", "0", "--out", spansPath],
                stderr: .stdout
            )
            self.process = process
            let line = try await process.line(startingWith: "listening on ", within: .seconds(30))
            guard let port = Int(line.dropFirst(13)) else { throw Integration.Failure("the receiver said \(line)") }
            self.port = port
        }

        var spans: [[String: Any]] {
            guard let text = try? String(contentsOfFile: spansPath, encoding: .utf8) else { return [] }
            return text.split(separator: "\n").compactMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any] }
        }

        func span(named name: String, attribute key: String = "pipebus.task.id", equals value: String, timeout: Duration = .seconds(30)) async throws -> [String: Any] {
            try await eventuallyValue("a \(name) span with \(key)=\(value) at the receiver", timeout: timeout) {
                spans.first { $0["name"] as? String == name && ($0["attributes"] as? [String: Any])?[key] as? String == value }
            }
        }

        func stop() async { await process.killAndReap() }
    }

    static func exportEnvironment(port: Int) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://127.0.0.1:\(port)"
        environment["OTEL_BSP_SCHEDULE_DELAY"] = "100"
        environment["OTEL_BSP_EXPORT_TIMEOUT"] = "2000"
        environment["OTEL_SERVICE_NAME"] = nil
        return environment
    }

    static let worker = [Integration.executable, "worker", "--min-ms", "0", "--max-ms", "0", "--log-level", "warning"]

    @Test("a task through a sidecar: its span has the trace id, parent, duration and attributes; lease, finish and submit spans join it")
    func taskSpan() async throws {
        let root = try Integration.Root.make(worker: "marie")
        defer { root.remove() }
        let receiver = try await Receiver(root: root)
        let sidecar = try await Integration.SidecarProcess(
            root: root, mode: "pipe", command: Self.worker, environment: Self.exportEnvironment(port: receiver.port)
        )
        let client = try await Integration.Client.connect(root, timeout: .seconds(10))
        do {
            // The caller's span: the task's trace is the caller's.
            let traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
            let callerSpan = "00f067aa0ba902b7"
            let submitted = try await client.connection.unary(
                Pipebus_Tasks_V1_Tasks.Method.Submit.descriptor,
                request: Pipebus_Tasks_V1_SubmitRequest(id: "traced-1", json: Array(#"{"prompt":"trace me","duration_ms":300}"#.utf8)),
                metadata: [MetadataKey.traceparent: "00-\(traceID)-\(callerSpan)-01"],
                timeout: .seconds(5),
                responseType: Pipebus_Tasks_V1_Task.self
            )
            let fields = submitted.traceparent.split(separator: "-").map(String.init)
            #expect(fields.count == 4 && fields[1] == traceID, "the task file's traceparent \(submitted.traceparent) is not in the caller's trace")
            let fileParent = fields.count == 4 ? fields[2] : ""

            let task = try await receiver.span(named: "pipebus.task", equals: "traced-1")
            #expect(task["trace_id"] as? String == traceID)
            #expect(task["parent_span_id"] as? String == fileParent, "the task span hangs off the span in _trace_context")
            #expect(task["service"] as? String == "agent-orchestrator")
            let duration = Double((task["end_ns"] as? Int ?? 0) - (task["start_ns"] as? Int ?? 0)) / 1e9
            #expect(duration >= 0.3 && duration < 30, "the task took 300 ms of processing; its span lasts \(duration) s")
            let attributes = try #require(task["attributes"] as? [String: Any])
            #expect(attributes["pipebus.worker"] as? String == "marie")
            #expect(attributes["pipebus.instance"] as? String == "it")
            #expect(attributes["pipebus.task.attempt"] as? Int == 1)
            #expect(attributes["pipebus.task.state"] as? String == "completed")
            #expect((attributes["pipebus.task.processing_seconds"] as? Double ?? 0) >= 0.3)
            #expect(task["status_code"] as? Int != 2, "a completed task's span is not an error")
            let events = (task["events"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
            #expect(Set(events) == ["queued", "active"], "\(events)")

            let submit = try await receiver.span(named: "pipebus.submit", equals: "traced-1")
            #expect(submit["trace_id"] as? String == traceID)
            #expect(submit["span_id"] as? String == fileParent)
            #expect(submit["parent_span_id"] as? String == callerSpan, "the submit span is the caller's child")
            for call in ["pipebus.lease", "pipebus.finish"] {
                let span = try await receiver.span(named: call, equals: "traced-1")
                #expect(span["trace_id"] as? String == traceID, "\(call)")
                #expect(span["parent_span_id"] as? String == fileParent, "\(call)")
            }

            // A failed task's span says so.
            _ = try await client.submit(#"{"prompt":"fail","fail":true,"duration_ms":0}"#, id: "traced-fail")
            let failed = try await receiver.span(named: "pipebus.task", equals: "traced-fail")
            #expect(failed["status_code"] as? Int == 2, "STATUS_CODE_ERROR")
            #expect((failed["attributes"] as? [String: Any])?["error.message"] as? String == "the task asked to fail (fail: true)")
            #expect((failed["attributes"] as? [String: Any])?["pipebus.task.state"] as? String == "failed")

            // A task submitted with no context starts a trace of its own, at its submit span.
            let fresh = try await client.submit(#"{"prompt":"no context","duration_ms":0}"#, id: "untraced")
            let freshSubmit = try await receiver.span(named: "pipebus.submit", equals: "untraced")
            #expect((freshSubmit["parent_span_id"] as? String ?? "x").isEmpty, "a new trace's submit span is a root")
            #expect(fresh.traceparent.contains(freshSubmit["trace_id"] as? String ?? "none"))

            // Every log line about the task carries its trace id.
            let lines = sidecar.logLines().filter { $0["task_id"] as? String == "traced-1" }
            #expect(!lines.isEmpty)
            #expect(lines.allSatisfy { $0["trace_id"] as? String == traceID }, "\(lines.filter { $0["trace_id"] as? String != traceID })")
        } catch {
            client.close()
            await sidecar.killEverything()
            await receiver.stop()
            throw error
        }
        client.close()
        await sidecar.killEverything()
        await receiver.stop()
    }

    @Test("a task replayed with the runbook's snippet starts a fresh trace")
    func replayStartsFreshTrace() async throws {
        let root = try Integration.Root.make(worker: "marie")
        defer { root.remove() }
        let receiver = try await Receiver(root: root)
        let sidecar = try await Integration.SidecarProcess(
            root: root, mode: "pipe", command: Self.worker, environment: Self.exportEnvironment(port: receiver.port)
        )
        let client = try await Integration.Client.connect(root, timeout: .seconds(10))
        do {
            let original = try await client.submit(#"{"prompt":"slow","duration_ms":0}"#, id: "slow-1")
            let first = try await receiver.span(named: "pipebus.task", equals: "slow-1")
            let scripts = "\(root.path)/runbook"
            try Integration.RunbookScripts.install(in: scripts)
            _ = try await Integration.RunbookScripts.run("replay_slow_task.py", in: scripts, [root.path, "slow-1", "marie"])

            let replay = try await receiver.span(named: "pipebus.task", equals: "slow-1_replay")
            #expect(replay["trace_id"] as? String != first["trace_id"] as? String, "the replay is in the original's trace")
            #expect(!original.traceparent.contains(replay["trace_id"] as? String ?? "none"))
            // Its trace starts where the sidecar took the dropped file in: a root span.
            let enqueue = try await receiver.span(named: "pipebus.enqueue", equals: "slow-1_replay")
            #expect(enqueue["trace_id"] as? String == replay["trace_id"] as? String)
            #expect((enqueue["parent_span_id"] as? String ?? "x").isEmpty)
            #expect(replay["parent_span_id"] as? String == enqueue["span_id"] as? String)
        } catch {
            client.close()
            await sidecar.killEverything()
            await receiver.stop()
            throw error
        }
        client.close()
        await sidecar.killEverything()
        await receiver.stop()
    }

    @Test("with the collector down, tasks flow and pipebus_trace_spans_dropped_total rises")
    func collectorDown() async throws {
        let root = try Integration.Root.make(worker: "marie")
        defer { root.remove() }
        // A port held bound by this test, never listened on: every export is refused, and no
        // other program can start listening there meanwhile.
        let reserved = try ReservedPort()
        defer { withExtendedLifetime(reserved) {} }
        let closed = reserved.port
        let sidecar = try await Integration.SidecarProcess(
            root: root, mode: "pipe", metrics: true, command: Self.worker, environment: Self.exportEnvironment(port: closed)
        )
        let client = try await Integration.Client.connect(root, timeout: .seconds(10))
        do {
            let port = try await sidecar.metricsPort()
            let count = 200
            for index in 0..<count {
                _ = try await client.submit(#"{"prompt":"no collector","duration_ms":0}"#, id: "dark-\(index)")
            }
            try await eventually("\(count) tasks completed with no collector", timeout: .seconds(120)) {
                root.taskIDs("completed").count == count
            }
            try await eventually("pipebus_trace_spans_dropped_total to rise", timeout: .seconds(60), every: .milliseconds(250)) {
                let scrape = try await LoopbackHTTPClient(port: port).scrapeMetrics()
                return (Integration.metricValue("pipebus_trace_spans_dropped_total", in: scrape) ?? 0) > 0
            }
            #expect(try await client.health().status == .serving)
        } catch {
            client.close()
            await sidecar.killEverything()
            throw error
        }
        client.close()
        await sidecar.killEverything()
    }
}
