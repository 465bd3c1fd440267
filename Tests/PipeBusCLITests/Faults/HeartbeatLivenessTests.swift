import Foundation
import PipeBusTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A worker instance frozen with SIGSTOP (the sidecar process, which writes the worker's
/// `heartbeat.json`): `pipebus status` shows its heartbeat suspect after 3 intervals, dead after
/// 5, and alive again once SIGCONT lets it write the next one (issue #7 §3). A stopped *worker
/// process* under a running sidecar is covered by SidecarFaultTests (NOT_SERVING).
@Suite struct HeartbeatLivenessTests {
    @Test func stoppedSidecarTurnsSuspectThenDeadThenRecovers() async throws {
        try await TestDeployment.with { deployment in
            // Each look is a `pipebus status` process, which takes seconds to start on a loaded
            // machine: the suspect window (3 to 5 intervals) must be wider than a few of them.
            let interval = 3.0
            let sidecar = try await deployment.startSidecar("marie", heartbeatInterval: interval)
            defer { sidecar.signal(SIGCONT) }
            try await eventually("a fresh heartbeat") { try await Self.liveness(deployment)?.state == "alive" }

            sidecar.signal(SIGSTOP)
            var seen: [(age: Double, state: String)] = []
            try await eventually("the heartbeat to be reported dead", timeout: .seconds(60)) {
                guard let observed = try await Self.liveness(deployment) else { return false }
                seen.append(observed)
                return observed.state == "dead"
            }
            // Each report agrees with its age, and the suspect phase was seen on the way.
            for (age, state) in seen {
                let expected = age > 5 * interval ? "dead" : age > 3 * interval ? "suspect" : "alive"
                #expect(state == expected, "age \(age) s reported \(state): \(seen)")
            }
            #expect(seen.contains { $0.state == "suspect" }, "never suspect: \(seen)")

            let startup = try await deployment.startupBaseline()
            sidecar.signal(SIGCONT)
            let continued = ContinuousClock.now
            try await eventually("the heartbeat to be alive again", timeout: .seconds(30)) {
                try await Self.liveness(deployment)?.state == "alive"
            }
            let recovery = continued.duration(to: .now)
            // The next heartbeat within an interval or two, seen by the next look or the one after.
            #expect(recovery < .seconds(2 * interval) + startup * 2 + .seconds(2), "recovered after \(recovery); a look takes \(startup)")
            print("sidecar SIGSTOP: \(seen.map { "\($0.state)@\(String(format: "%.1f", $0.age))s" }); alive \(recovery) after SIGCONT")
        }
    }

    /// The heartbeat age and liveness `pipebus status --json` reports for marie.
    static func liveness(_ deployment: TestDeployment) async throws -> (age: Double, state: String)? {
        let result = try await deployment.run(["status", "--json"], timeout: .seconds(20))
        guard let rows = result.json as? [[String: Any]],
            let heartbeat = rows.first(where: { $0["worker"] as? String == "marie" })?["heartbeat"] as? [String: Any],
            let age = heartbeat["age_seconds"] as? Double,
            let state = heartbeat["liveness"] as? String
        else { return nil }
        return (age, state)
    }
}
