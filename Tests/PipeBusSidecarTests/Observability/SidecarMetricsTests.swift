import Foundation
import PipeBusCore
import PipeBusTasks
import Testing

@testable import PipeBusSidecar

@Suite("Sidecar metrics")
struct SidecarMetricsTests {
    static let contractNames: [(name: String, type: String)] = [
        ("active_tasks", "gauge"), ("task_queue_depth", "gauge"), ("task_failed_total", "counter"),
        ("task_processing_duration_seconds", "histogram"), ("pipe_write_latency_seconds", "histogram"),
        ("pipe_connection_errors_total", "counter"), ("claude_api_errors_total", "counter"),
        ("claude_memory_usage_bytes", "gauge"), ("system_cpu_usage_percent", "gauge"),
        ("system_memory_usage_bytes", "gauge"), ("system_io_operations_total", "counter"),
        ("pipebus_tasks_submitted_total", "counter"), ("pipebus_tasks_completed_total", "counter"),
        ("pipebus_task_transitions_total", "counter"), ("pipebus_task_queue_wait_seconds", "histogram"),
        ("pipebus_heartbeat_timestamp_seconds", "gauge"), ("pipebus_pipe_frames_total", "counter"),
        ("pipebus_pipe_bytes_total", "counter"), ("pipebus_worker_up", "gauge"),
        ("pipebus_health_serving", "gauge"), ("pipebus_oldest_active_task_age_seconds", "gauge"),
    ]

    /// A metrics object with every family holding at least one sample.
    static func exercised(worker: String = "marie", instance: String = "marie-1") -> (SidecarMetrics, TransportMetrics)
    {
        let transport = TransportMetrics()
        let metrics = SidecarMetrics(worker: worker, instance: instance, host: "h1", transport: transport)
        metrics.taskSubmitted()
        metrics.transition(from: .pending, to: .active, processingSeconds: nil, queueWaitSeconds: 0.02)
        metrics.transition(from: .active, to: .completed, processingSeconds: 12, queueWaitSeconds: nil)
        metrics.transition(from: .active, to: .failed, processingSeconds: 45, queueWaitSeconds: nil)
        metrics.setQueueDepth(7)
        metrics.setActiveTasks(2)
        metrics.claudeAPIErrors(3)
        metrics.heartbeat(at: Date(timeIntervalSince1970: 1_700_000_000.5))
        metrics.workerUp(true)
        metrics.serving(false)
        metrics.oldestActiveTaskAge(seconds: 301.5)
        metrics.resourceSample(
            ResourceSample(
                processCount: 3,
                treeRSSBytes: 123_456_789,
                systemCPUPercent: 42.5,
                systemMemoryUsedBytes: 2_000_000_000,
                systemIOOperationsTotal: 98_765
            )
        )
        transport.writeLatency.record(nanoseconds: 800)
        transport.writeLatency.record(nanoseconds: 3_000)
        transport.writeLatency.record(nanoseconds: 20_000_000_000)
        transport.recordSent(frames: 4, bytes: 400)
        transport.recordReceived(frames: 2, bytes: 100)
        transport.recordConnectionError(reason: "bad_frame")
        transport.recordConnectionError(reason: "made_up_reason")
        return (metrics, transport)
    }

    @Test
    func everyContractFamilyHasHelpTypeAndTheWorkerAndInstanceLabels() {
        let text = Self.exercised().0.render()
        let lines = text.split(separator: "\n").map(String.init)
        for (name, type) in Self.contractNames {
            #expect(lines.filter { $0.hasPrefix("# HELP \(name) ") }.count == 1, "HELP of \(name)")
            #expect(lines.contains("# TYPE \(name) \(type)"), "TYPE of \(name)")
            let samples = lines.filter { $0.hasPrefix(name + "{") || $0.hasPrefix(name + "_") && !$0.hasPrefix("#") }
            #expect(!samples.isEmpty, "samples of \(name)")
            for sample in samples {
                #expect(sample.contains(#"worker="marie""#) && sample.contains(#"instance="marie-1""#), "\(sample)")
            }
        }
    }

    @Test
    func promtoolFindsNoProblem() throws {
        guard let promtool = CommandLineTool.find("promtool") else {
            Issue.record(CommandLineTool.missingMessage("promtool"))
            return
        }
        // Both a fresh object (families with no samples yet) and an exercised one, with a worker
        // name that needs escaping in a label value.
        let fresh = SidecarMetrics(worker: "marie", instance: "a", transport: TransportMetrics()).render()
        let exercised = Self.exercised(worker: #"we"ird\name"#).0.render()
        for text in [fresh, exercised] {
            let result = try promtool.run(["check", "metrics"], input: text)
            #expect(result.status == 0 && result.output.isEmpty, "promtool: \(result.output)\n\(text)")
        }
    }

    @Test
    func pipeWriteLatencyIsCumulativeInSecondsWithInfSumAndCount() {
        let text = Self.exercised().0.render()
        let labels = #"worker="marie",instance="marie-1""#
        #expect(text.contains("pipe_write_latency_seconds_bucket{\(labels),le=\"0.000001\"} 1\n"))
        #expect(text.contains("pipe_write_latency_seconds_bucket{\(labels),le=\"0.0000025\"} 1\n"))
        #expect(text.contains("pipe_write_latency_seconds_bucket{\(labels),le=\"0.000005\"} 2\n"))
        #expect(text.contains("pipe_write_latency_seconds_bucket{\(labels),le=\"10\"} 2\n"))
        #expect(text.contains("pipe_write_latency_seconds_bucket{\(labels),le=\"+Inf\"} 3\n"))
        #expect(text.contains("pipe_write_latency_seconds_sum{\(labels)} 20.0000038\n"))
        #expect(text.contains("pipe_write_latency_seconds_count{\(labels)} 3\n"))
    }

    @Test
    func transportCountersAreExportedWithKnownReasonsAtZero() {
        let text = Self.exercised().0.render()
        let labels = #"worker="marie",instance="marie-1""#
        #expect(text.contains("pipe_connection_errors_total{\(labels),reason=\"bad_frame\"} 1\n"))
        #expect(text.contains("pipe_connection_errors_total{\(labels),reason=\"made_up_reason\"} 1\n"))
        #expect(text.contains("pipe_connection_errors_total{\(labels),reason=\"slow_consumer\"} 0\n"))
        #expect(text.contains("pipebus_pipe_frames_total{\(labels),direction=\"sent\"} 4\n"))
        #expect(text.contains("pipebus_pipe_bytes_total{\(labels),direction=\"received\"} 100\n"))
        // Host-wide figures carry the host, so that dashboards can take one per machine.
        #expect(text.contains("system_io_operations_total{\(labels),host=\"h1\"} 98765\n"))
        #expect(text.contains("system_cpu_usage_percent{\(labels),host=\"h1\"} 42.5\n"))
        #expect(text.contains("pipebus_health_serving{\(labels)} 0.0\n"))
        #expect(text.contains("pipebus_oldest_active_task_age_seconds{\(labels)} 301.5\n"))
    }

    @Test
    func transitionsFeedFailuresDurationsAndQueueWait() {
        let text = Self.exercised().0.render()
        let labels = #"worker="marie",instance="marie-1""#
        #expect(text.contains("task_failed_total{\(labels)} 1\n"))
        #expect(text.contains("pipebus_tasks_completed_total{\(labels)} 1\n"))
        #expect(text.contains("pipebus_tasks_submitted_total{\(labels)} 1\n"))
        #expect(text.contains("pipebus_task_transitions_total{\(labels),from=\"active\",to=\"failed\"} 1\n"))
        #expect(text.contains("task_processing_duration_seconds_count{\(labels)} 2\n"))
        #expect(text.contains("task_processing_duration_seconds_bucket{\(labels),le=\"30.0\"} 1\n"))
        #expect(text.contains("pipebus_task_queue_wait_seconds_count{\(labels)} 1\n"))
        #expect(text.contains("claude_api_errors_total{\(labels)} 3\n"))
        #expect(text.contains("pipebus_heartbeat_timestamp_seconds{\(labels)} 1700000000.5\n"))
    }

    @Test
    func scrapeTimeFamiliesAreNeverOnTheRegistry() {
        let registryText = Self.exercised().0.registry.emitToString()
        for name in SidecarMetrics.scrapeTimeFamilyNames {
            #expect(!registryText.contains("# TYPE \(name) "), "\(name) is rendered twice")
        }
    }

    @Test
    func secondsAreExactDecimals() {
        #expect(ExpositionWriter.seconds(nanoseconds: 0) == "0")
        #expect(ExpositionWriter.seconds(nanoseconds: 1) == "0.000000001")
        #expect(ExpositionWriter.seconds(nanoseconds: 2_500) == "0.0000025")
        #expect(ExpositionWriter.seconds(nanoseconds: 10_000_000_000) == "10")
        #expect(ExpositionWriter.seconds(nanoseconds: 1_500_000_000) == "1.5")
        #expect(ExpositionWriter.escapeLabelValue("a\"b\\c\nd") == #"a\"b\\c\nd"#)
    }
}
