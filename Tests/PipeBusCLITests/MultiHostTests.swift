#if GRPC
import Foundation
import PipeBusTestSupport
import Testing

/// Issue #17's several hosts on one machine: sidecars on hosts B and C (network namespaces, each
/// with its own spool, serving gRPC over a veth link), the CLI and the Swift client on the hub A,
/// reaching them through a fleet file. Then C's link is taken down in the middle of a `watch`.
@Suite(
    "Several hosts (network namespaces)",
    .serialized,
    .enabled("needs to make network namespaces (root and iproute2's `ip netns add`); tried, and could not") {
        await NetworkNamespaces.isAvailable()
    }
)
struct MultiHostTests {
    static let hosts = ["b", "c"]
    /// How long the CLI waits for a host's answer (`--timeout`'s default).
    static let deadline = Duration.seconds(2)
    /// `watch` over the fleet file's workers.
    static func watchArguments(_ fleet: String) -> [String] { ["watch", "--all", "--fleet", fleet, "--json"] }

    @Test("from the hub: health, status, submit and watch cover the workers on B and C")
    func fleetAcrossHosts() async throws {
        try await MultiHostDeployment.with(hosts: Self.hosts) { deployment in
            try await deployment.startSidecars(on: Self.hosts)
            let fleet = deployment.fleetFile
            let workers = Set(Self.hosts.map(deployment.worker(on:)))

            let health = try await Self.waitUntilServing(deployment)
            let rows = try #require(health.json as? [[String: Any]], "\(health)")
            #expect(Set(rows.compactMap { $0["worker"] as? String }) == workers, "\(health)")
            #expect(rows.allSatisfy { $0["status"] as? String == "SERVING" }, "\(health)")

            let status = try await deployment.run(["status", "--fleet", fleet])
            #expect(status.status == 0, "\(status)")
            let lines = status.stdout.split(separator: "\n").map(String.init)
            for worker in workers {
                let row = try #require(lines.first { $0.hasPrefix(worker) }, "no row of \(worker): \(status)")
                #expect(row.contains("SERVING"), "\(row)")
            }

            let watch = try deployment.start(Self.watchArguments(fleet))
            defer { watch.stop() }
            try await eventually("heartbeats of both hosts in the watch: \(watch)") {
                workers.allSatisfy { WatchLines.heartbeats(of: $0, in: watch) > 0 }
            }

            let submitted = try await deployment.run(
                ["submit", "--fleet", fleet, "--worker", "c-worker", "--id", "on-c-1", "-"],
                stdin: #"{"duration_ms": 10}"#
            )
            #expect(submitted.status == 0, "\(submitted)")
            #expect(submitted.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "on-c-1", "\(submitted)")
            try await eventually("the watch to show on-c-1 completed on c-worker: \(watch)", timeout: .seconds(20)) {
                WatchLines.objects(in: watch).contains {
                    $0["worker"] as? String == "c-worker" && $0["task_id"] as? String == "on-c-1"
                        && $0["to"] as? String == "completed"
                }
            }
            // Done on C, in C's spool; B's spool never saw it.
            let completed = deployment.taskFile("on-c-1", on: "c", state: "completed")
            #expect(FileManager.default.fileExists(atPath: completed), "no \(completed)")
            #expect(!FileManager.default.fileExists(atPath: "\(deployment.root(of: "b"))/tasks/c-worker"))

            // The Swift client on the hub: a SidecarClient with a grpc:// target.
            let client = try await SwiftClient.run(deployment, host: "c", ["--id", "swift-on-c"])
            #expect(client.exit == .code(0), "\(client)")
            #expect(client.stdout.contains("health SERVING"), "\(client)")
            #expect(client.stdout.contains("completed swift-on-c"), "\(client)")
            #expect(FileManager.default.fileExists(atPath: deployment.taskFile("swift-on-c", on: "c", state: "completed")))
        }
    }

    @Test("C cut off in the middle of a watch: C unreachable within the deadline, B unaffected, C back when the link is")
    func partitionAndRecovery() async throws {
        try await MultiHostDeployment.with(hosts: Self.hosts) { deployment in
            try await deployment.startSidecars(on: Self.hosts)
            let fleet = deployment.fleetFile
            try await Self.waitUntilServing(deployment)

            // B's answer time through the fleet with every host up: the baseline. The deadline is
            // the CLI's default (2 s), given to `health` explicitly; a B row that waited for C
            // would take it, so B's answer with C cut off must stay well below it.
            let deadline = Self.deadline
            var baseline = Duration.zero
            for _ in 0..<3 {
                let health = try await deployment.run(["health", "--all", "--fleet", fleet, "--json", "--timeout", "2"])
                let b = try #require(Self.row("b-worker", in: health), "\(health)")
                baseline = max(baseline, Self.elapsed(b))
            }
            try #require(baseline < deadline / 4, "B answers too slowly here (\(baseline)) to tell a wait for C's deadline")

            let watch = try deployment.start(Self.watchArguments(fleet))
            defer { watch.stop() }
            try await eventually("heartbeats of both hosts in the watch: \(watch)") {
                WatchLines.heartbeats(of: "b-worker", in: watch) > 0 && WatchLines.heartbeats(of: "c-worker", in: watch) > 0
            }

            try await deployment.network.setLink(of: "c", up: false)

            let health = try await deployment.run(["health", "--all", "--fleet", fleet, "--json", "--timeout", "2"])
            #expect(health.status != 0, "\(health)")
            let bHealth = try #require(Self.row("b-worker", in: health), "\(health)")
            let cHealth = try #require(Self.row("c-worker", in: health), "\(health)")
            #expect(bHealth["status"] as? String == "SERVING", "\(health)")
            #expect(
                Self.elapsed(bHealth) < baseline + deadline / 2,
                "B waited for C: B answers in \(baseline) with every host up; C's deadline is \(deadline)\n\(health)"
            )
            #expect(cHealth["status"] as? String == "UNREACHABLE", "\(health)")
            #expect(Self.elapsed(cHealth) < deadline * 1.5, "C answered after its deadline \(deadline)\n\(health)")
            // The Swift client's call to C fails with UNAVAILABLE or DEADLINE_EXCEEDED within
            // its deadline.
            let cCall = try await SwiftClient.run(deployment, host: "c", ["--timeout-ms", "2000"])
            let cAnswer = try #require(SwiftClient.answer(cCall), "\(cCall)")
            #expect(["UNAVAILABLE", "DEADLINE_EXCEEDED"].contains(cAnswer.status), "\(cCall)")
            #expect(cAnswer.elapsed < deadline * 1.5, "C's call outlived its deadline \(deadline): \(cCall)")
            let cHeartbeatsCut = WatchLines.heartbeats(of: "c-worker", in: watch)
            let bHeartbeatsCut = WatchLines.heartbeats(of: "b-worker", in: watch)

            let startup = try await deployment.startupBaseline()
            let status = try await deployment.run(["status", "--fleet", fleet, "--json"])
            #expect(status.status == 1, "\(status)")
            let bStatus = try #require(Self.row("b-worker", in: status), "\(status)")
            let cStatus = try #require(Self.row("c-worker", in: status), "\(status)")
            #expect(bStatus["health"] as? String == "SERVING", "\(status)")
            #expect(cStatus["health"] as? String == "UNREACHABLE", "\(status)")
            let cError = cStatus["error"] as? String ?? ""
            #expect(
                cError.contains("not reachable") || cError.contains("did not answer in time"),
                "C's row does not say why: \(status)"
            )
            #expect(status.elapsed < startup + deadline * 1.5, "status took \(status.elapsed); the CLI starts in \(startup)")

            // Meanwhile the watch kept printing B's heartbeats, and none of C's.
            try await eventually("B's heartbeats to keep coming while C is cut off: \(watch)") {
                WatchLines.heartbeats(of: "b-worker", in: watch) >= bHeartbeatsCut + 2
            }
            #expect(WatchLines.heartbeats(of: "c-worker", in: watch) == cHeartbeatsCut, "\(watch)")

            try await deployment.network.setLink(of: "c", up: true)
            try await eventually("status to show C serving again", timeout: .seconds(30), every: .milliseconds(200)) {
                let status = try await deployment.run(["status", "--fleet", fleet, "--json"])
                return status.status == 0 && Self.row("c-worker", in: status)?["health"] as? String == "SERVING"
            }
            try await eventually("the same watch to show C's heartbeats again: \(watch)", timeout: .seconds(30)) {
                WatchLines.heartbeats(of: "c-worker", in: watch) > cHeartbeatsCut
            }
            #expect(watch.isRunning, "\(watch)")
            for host in Self.hosts {
                #expect(deployment.sidecars[host]?.isRunning == true, "the sidecar on \(host) was not restarted")
            }
        }
    }

    // MARK: Helpers

    /// `health --all --fleet` until every worker is SERVING (a pipe sidecar is once its worker
    /// leases); that answer.
    @discardableResult
    static func waitUntilServing(_ deployment: MultiHostDeployment) async throws -> CommandResult {
        var last: CommandResult?
        return try await eventuallyValue("every worker SERVING through the fleet: \(String(describing: last))", timeout: .seconds(30)) {
            let result = try await deployment.run(["health", "--all", "--fleet", deployment.fleetFile, "--json", "--timeout", "5"])
            last = result
            return result.status == 0 ? result : nil
        }
    }

    /// The JSON row of `worker` in a command's `--json` array.
    static func row(_ worker: String, in result: CommandResult) -> [String: Any]? {
        (result.json as? [[String: Any]])?.first { $0["worker"] as? String == worker }
    }

    /// A health row's `elapsed_seconds` (a day when it has none: never within a bound).
    static func elapsed(_ row: [String: Any]) -> Duration {
        .seconds(row["elapsed_seconds"] as? Double ?? 86_400)
    }
}

/// The Swift client (`SidecarClient` over gRPC) on the hub: `pipebus-test-peer sidecar-client`,
/// a process of its own since a network namespace is a process's, not a test's.
enum SwiftClient {
    static func run(_ deployment: MultiHostDeployment, host: String, _ arguments: [String]) async throws -> ChildProcess.Finished {
        try await ChildProcess.run(
            deployment.network.onHub(
                [try BuiltExecutable.path("pipebus-test-peer"), "sidecar-client", "--target", deployment.target(of: host),
                 "--worker", deployment.worker(on: host)] + arguments
            ),
            timeout: .seconds(60)
        )
    }

    /// Its health line (`health SERVING elapsed_ms=3`) or error line
    /// (`error UNAVAILABLE elapsed_ms=812 …`): the status or code, and the call's time.
    static func answer(_ finished: ChildProcess.Finished) -> (status: String, elapsed: Duration)? {
        for line in finished.stdout.split(separator: "\n") where line.hasPrefix("health ") || line.hasPrefix("error ") {
            let fields = line.split(separator: " ")
            guard fields.count >= 3, fields[2].hasPrefix("elapsed_ms="), let milliseconds = Int(fields[2].dropFirst(11)) else {
                return nil
            }
            return (String(fields[1]), .milliseconds(milliseconds))
        }
        return nil
    }
}

/// What `pipebus watch --json` printed: one JSON object a line.
enum WatchLines {
    static func objects(in watch: ChildProcess) -> [[String: Any]] {
        watch.stdoutLines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    /// How many heartbeat events of `worker` it printed.
    static func heartbeats(of worker: String, in watch: ChildProcess) -> Int {
        objects(in: watch).count { $0["worker"] as? String == worker && $0["kind"] as? String == "heartbeat" }
    }
}
#endif
