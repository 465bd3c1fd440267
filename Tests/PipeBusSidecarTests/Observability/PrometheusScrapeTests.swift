import Foundation
import PipeBusCore
import PipeBusTasks
import Synchronization
import Testing

@testable import PipeBusSidecar

/// The runbook's queries, run by a real Prometheus against a real `/metrics` endpoint.
@Suite("Prometheus scrape", .timeLimit(.minutes(2)))
struct PrometheusScrapeTests {
    @Test
    func runbookQueriesReturnNumbers() async throws {
        guard let binary = CommandLineTool.find("prometheus") else {
            Issue.record(CommandLineTool.missingMessage("prometheus"))
            return
        }
        let transport = TransportMetrics()
        let metrics = SidecarMetrics(worker: "marie", instance: "marie-1", transport: transport)
        let server = MetricsHTTPServer(metrics: metrics, health: { (200, "SERVING\n") })
        let targetPort = try await server.start(host: "127.0.0.1", port: 0)
        let prometheus = try await PrometheusProcess(binary: binary, scraping: targetPort)

        // Keeps latencies and failures coming, so every scrape sees the counters grow.
        let feeding = Task.detached {
            var round: UInt64 = 0
            while !Task.isCancelled {
                for sample in UInt64(0)..<50 {
                    transport.writeLatency.record(nanoseconds: 2_000 + (sample * 997 + round) % 40_000)
                }
                metrics.transition(from: .active, to: .failed, processingSeconds: 31, queueWaitSeconds: nil)
                round += 1
                try? await Task.sleep(for: .milliseconds(200))
            }
        }
        var failure: Comment?
        do {
            failure = try await check(prometheus)
        } catch {
            failure = "\(error)"
        }
        feeding.cancel()
        await feeding.value
        await prometheus.stop()
        await server.shutdown()
        if let failure { Issue.record(failure) }
    }

    /// Waits (60 s at most) for three scrapes, then runs the runbook's queries; returns what failed.
    private func check(_ prometheus: PrometheusProcess) async throws -> Comment? {
        let deadline = ContinuousClock.now + .seconds(60)
        var scrapes = 0.0
        while scrapes < 3 {
            guard ContinuousClock.now < deadline else {
                return "Prometheus scraped \(scrapes) times in 60 s; its log:\n\(prometheus.logText)"
            }
            try await Task.sleep(for: .milliseconds(500))
            scrapes =
                prometheus.query(#"count_over_time(up{job="pipebus"}[1m])"#)?.first.flatMap { Double($0.value) } ?? 0
            if let up = prometheus.query(#"up{job="pipebus"}"#)?.first, up.value == "0" {
                return "Prometheus cannot scrape /metrics (up == 0); its log:\n\(prometheus.logText)"
            }
        }
        for promQL in [
            "histogram_quantile(0.95, rate(pipe_write_latency_seconds_bucket[1m]))",
            "rate(task_failed_total[1m])",
        ] {
            guard let result = prometheus.query(promQL), let first = result.first else {
                return "\(promQL) returned nothing; log:\n\(prometheus.logText)"
            }
            guard let value = Double(first.value), value.isFinite, value > 0 else {
                return "\(promQL) = \(first.value), not a positive number"
            }
            #expect(first.labels["worker"] == "marie", "\(promQL): \(first.labels)")
            // The target label `instance` wins over ours, which Prometheus keeps as `exported_instance`.
            #expect(first.labels["exported_instance"] == "marie-1", "\(promQL): \(first.labels)")
        }
        return nil
    }
}
