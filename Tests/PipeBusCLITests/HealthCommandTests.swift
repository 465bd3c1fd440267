import Foundation
import PipeBusTestSupport
import Testing

/// `pipebus health`, like grpc_health_probe: 0 only when SERVING.
@Suite struct HealthCommandTests {
    @Test func servingExits0() async throws {
        try await TestDeployment.with { deployment in
            try await deployment.startSidecar("marie")
            let result = try await deployment.run(["health", "--worker", "marie", "--timeout", "10"])
            #expect(result.status == 0, "\(result)")
            #expect(result.stdout.contains("marie: SERVING"), "\(result)")

            let json = try await deployment.run([
                "health", "--worker", "marie", "--json", "--service", "pipebus.tasks.v1.Tasks", "--timeout", "10",
            ])
            #expect(json.status == 0, "\(json)")
            let object = json.json as? [String: Any]
            #expect(object?["status"] as? String == "SERVING", "\(json)")
        }
    }

    @Test func unknownServiceExits1() async throws {
        try await TestDeployment.with { deployment in
            try await deployment.startSidecar("marie")
            let result = try await deployment.run([
                "health", "--worker", "marie", "--service", "no.such.Service", "--timeout", "10",
            ])
            #expect(result.status == 1, "\(result)")
            #expect(result.stdout.contains("SERVICE_UNKNOWN"), "\(result)")
        }
    }

    /// The answer itself (connect and call, timed by the CLI) takes well under a second; the process
    /// as a whole also pays for starting a debug binary, so it is compared with that cost.
    @Test func sidecarNotRunningAnswersWithin1Second() async throws {
        try await TestDeployment.with { deployment in
            try await deployment.startSidecar("marie")
            #expect(await deployment.stopSidecar("marie") == .code(0))
            let result = try await deployment.run(["health", "--worker", "marie", "--json"])
            #expect(result.status == 1, "\(result)")
            let object = result.json as? [String: Any]
            #expect(object?["status"] as? String == "UNREACHABLE", "\(result)")
            #expect((object?["elapsed_seconds"] as? Double ?? 9) < 1, "\(result)")
            let startup = try await deployment.startupBaseline()
            #expect(result.elapsed < startup + .seconds(2), "took \(result.elapsed); starting the CLI takes \(startup)")

            // A connect FIFO left by a killed sidecar: still an answer at once (ENXIO).
            let killed = try await deployment.startSidecar("anga")
            killed.signal(SIGKILL)
            _ = await killed.wait(timeout: .seconds(10))
            let stale = try await deployment.run(["health", "--worker", "anga", "--json"])
            #expect(stale.status == 1, "\(stale)")
            #expect(((stale.json as? [String: Any])?["elapsed_seconds"] as? Double ?? 9) < 1, "\(stale)")
            #expect(stale.elapsed < startup + .seconds(2), "took \(stale.elapsed); starting the CLI takes \(startup)")

            let text = try await deployment.run(["health", "--worker", "marie"])
            #expect(
                text.status == 1 && text.stdout.contains("marie: UNREACHABLE (the sidecar is not running"),
                "\(text)"
            )
            let status = try await deployment.run(["status"])
            #expect(status.status == 1, "\(status)")
        }
    }

    @Test func hungSidecarAnswersWithinTimeout() async throws {
        try await TestDeployment.with { deployment in
            let sidecar = try await deployment.startSidecar("marie")
            sidecar.signal(SIGSTOP)
            defer { sidecar.signal(SIGCONT) }
            let result = try await deployment.run(["health", "--worker", "marie", "--timeout", "0.5", "--json"])
            sidecar.signal(SIGCONT)
            #expect(result.status == 1, "\(result)")
            #expect((result.json as? [String: Any])?["status"] as? String == "UNREACHABLE", "\(result)")
            #expect(((result.json as? [String: Any])?["elapsed_seconds"] as? Double ?? 9) < 1, "\(result)")
            let startup = try await deployment.startupBaseline()
            #expect(result.elapsed < startup + .seconds(2), "took \(result.elapsed); starting the CLI takes \(startup)")
        }
    }

    @Test func workerThatExitedIsNotServing() async throws {
        try await TestDeployment.with { deployment in
            try await deployment.startSidecar("marie", command: ["/bin/sh", "-c", "exit 3"])
            var last: CommandResult?
            try await eventually("health to report NOT_SERVING") {
                let result = try await deployment.run(["health", "--worker", "marie", "--timeout", "10"])
                last = result
                return result.status == 1 && result.stdout.contains("NOT_SERVING")
            }
            #expect(last?.stdout.contains("exited with status 3") == true, "\(String(describing: last))")
        }
    }

    @Test func allNeedsEveryWorkerServing() async throws {
        try await TestDeployment.with { deployment in
            try await deployment.startSidecar("anga")
            try await deployment.startSidecar("fabien")
            let healthy = try await deployment.run(["health", "--all", "--json", "--timeout", "10"])
            #expect(healthy.status == 0, "\(healthy)")
            #expect((healthy.json as? [[String: Any]])?.count == 2, "\(healthy)")

            // A pipe-mode sidecar with no worker leasing turns NOT_SERVING after its grace period.
            try await deployment.startSidecar("marie", mode: "pipe", heartbeatInterval: 0.2)
            try await eventually("--all to fail on marie") {
                let result = try await deployment.run(["health", "--all", "--timeout", "10"])
                return result.status == 1
                    && result.stdout.contains("marie: NOT_SERVING (no pipe worker is leasing tasks)")
            }
        }
    }

    @Test func watchPrintsChangesUntilInterrupted() async throws {
        try await TestDeployment.with { deployment in
            try await deployment.startSidecar("marie")
            let watch = try CLI.start([
                "health", "--worker", "marie", "--watch", "--timeout", "5", "--root", deployment.root,
            ])
            try await eventually("the watch to print SERVING") {
                watch.stdoutLines.contains { $0.hasSuffix("marie: SERVING") }
            }
            await deployment.stopSidecar("marie")
            try await eventually("the watch to notice the sidecar is gone") {
                watch.stdoutLines.contains { $0.contains("marie: NOT_SERVING") || $0.contains("marie: UNREACHABLE") }
            }
            let status = await watch.terminate()
            #expect(status == .code(1), "the last status was not SERVING: \(watch)")
        }
    }
}
