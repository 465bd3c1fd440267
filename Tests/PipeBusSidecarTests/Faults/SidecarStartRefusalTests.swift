import Foundation
import PipeBusCore
import PipeBusTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Sidecars that must not start (issue 14, defects 7 and 8): they fail with a clear error, at
/// once, having bound nothing and left nothing behind.
@Suite("Sidecar start refused", .serialized)
struct SidecarStartRefusalTests {
    @Test("a second sidecar for the same worker and instance fails at once with the lock message and never serves /metrics")
    func secondSidecarOfAnInstanceIsRefused() async throws {
        let root = try Integration.Root.make(worker: "marie")
        defer { root.remove() }
        let first = try await Integration.SidecarProcess(root: root, metrics: true)
        do {
            let firstPort = try await first.metricsPort()
            // The baseline: a start that fails before it looks at any lock (no such worker
            // command), on another instance: the same process start-up, in the same conditions.
            let baselineStart = ContinuousClock.now
            let baseline = try await Integration.run(
                Self.sidecarArguments(root, instance: "baseline") + ["--", "/nonexistent/worker"]
            )
            let baselineDuration = baselineStart.duration(to: .now)
            #expect(baseline.exit.code == 1, "\(baseline.output)")

            let start = ContinuousClock.now
            let second = try await Integration.run(Self.sidecarArguments(root, instance: first.instance))
            let duration = start.duration(to: .now)
            #expect(second.exit.code == 1, "\(second.output)")
            #expect(second.output.contains("another sidecar (pid \(first.pid)) is running as instance \(first.instance) of worker marie"), "\(second.output)")
            #expect(!second.output.contains("serving /metrics"), "the second sidecar bound its metrics port: \(second.output)")
            // It used to wait 5 s for the lock (while serving /metrics) before failing.
            #expect(duration < baselineDuration + .seconds(2), "refused after \(duration); a start failing before the lock took \(baselineDuration)")

            // The first one is unharmed.
            #expect(first.process.isRunning)
            #expect(Integration.metricValue("pipebus_worker_up", in: try await LoopbackHTTPClient(port: firstPort).scrapeMetrics()) != nil)
            let client = try await Integration.Client.connect(root, instance: first.instance, timeout: .seconds(5))
            defer { client.close() }
            _ = try await client.health()
        } catch {
            Issue.record("first sidecar's log tail:\n\(first.logTail(60))")
            await first.killEverything()
            throw error
        }
        await first.killEverything()
    }

    @Test(
        "a sidecar whose worker cannot start fails with a clear error and leaves no FIFO and no instance directory",
        arguments: ["no such command", "an interpreter that does not exist"]
    )
    func failedStartLeavesNothingBehind(_ failure: String) async throws {
        let root = try Integration.Root.make(worker: "marie")
        defer { root.remove() }
        let command: String
        let expected: String
        if failure == "no such command" {
            command = "/nonexistent/worker"
            expected = "cannot start worker /nonexistent/worker: no executable file of that name"
        } else {
            // Executable, so it passes the check before the start; the exec itself fails.
            command = "\(root.path)/worker.sh"
            try root.write("#!/nonexistent/interpreter\n", to: command)
            #expect(chmod(command, 0o755) == 0)
            expected = "cannot start worker \(command): No such file or directory"
        }
        let (exit, output) = try await Integration.run(
            Self.sidecarArguments(root, instance: "it") + ["--", command]
        )
        #expect(exit.code == 1, "\(output)")
        #expect(output.contains(expected), "\(output)")
        let instance = "\(root.workerDirectory)/instances/it"
        #expect(!FileManager.default.fileExists(atPath: instance), "left behind: \(Self.entries(under: instance))")
        let fifos = Self.entries(under: root.path).filter { Integration.lstatKind($0) == S_IFIFO }
        #expect(fifos.isEmpty, "FIFOs left behind: \(fifos)")
    }

    /// With `/metrics` on port 0: a sidecar that got as far as binding would say "serving
    /// /metrics", and no port is picked in advance that another program could take meanwhile.
    static func sidecarArguments(_ root: Integration.Root, instance: String) -> [String] {
        [
            Integration.executable, "sidecar", "--worker", root.worker, "--root", root.path, "--instance", instance,
            "--heartbeat-interval", "0.5", "--metrics-address", "127.0.0.1:0",
        ]
    }

    /// Every path under `directory`, recursively.
    static func entries(under directory: String) -> [String] {
        guard let enumerator = FileManager.default.enumerator(atPath: directory) else { return [] }
        return enumerator.compactMap { ($0 as? String).map { "\(directory)/\($0)" } }
    }
}
