import FoundationEssentials
import PipeBusClient

/// The `spool` scenario's client: `submitters` concurrent tasks, each with a `SidecarClient`
/// (a connection) of its own, submit `count` zero-time tasks between them through the public
/// API (`SidecarClient.submit`), then wait until the sidecars' workers have finished all of
/// them (`status().completed`). A warm-up round goes first, finished before the clock starts.
enum SpoolClientRole: PeerRole {
    struct Configuration: Codable, Sendable {
        var root: String
        var worker: String
        /// The instances the submitters talk to, in turn (submitter i uses instance i % count).
        var instances: [String]
        var submitters: Int
        var warmup: Int
        var count: Int
    }

    struct Report: Codable, Sendable {
        /// Every measured submit's time to its acknowledgement, in nanoseconds.
        var samples: [UInt64]
        /// `CLOCK_MONOTONIC`: the first measured submit, the last acknowledgement, and when the
        /// status first showed every measured task completed.
        var startNanoseconds: UInt64
        var acknowledgedNanoseconds: UInt64
        var finishedNanoseconds: UInt64
    }

    static let name = "spoolClient"

    static func run(_ configuration: Configuration) async throws -> Report {
        let clients = (0..<configuration.submitters).map { index in
            SidecarClient(
                root: configuration.root,
                worker: configuration.worker,
                instance: configuration.instances[index % configuration.instances.count],
                defaultTimeout: .seconds(30)
            )
        }
        defer { clients.forEach { $0.close() } }
        let probe = clients[0]
        // The sidecars start meanwhile: wait for each to answer.
        for instance in Set(configuration.instances) {
            let client = clients.first { $0.instance == instance }!
            try await waitUntilServing(client)
        }
        let before = try await probe.status().completed
        _ = try await round(clients, tasks: configuration.warmup, tag: "warmup")
        try await waitForCompleted(Int(before) + configuration.warmup, probe)

        let start = MonotonicClock.nanoseconds()
        let samples = try await round(clients, tasks: configuration.count, tag: "task")
        let acknowledged = MonotonicClock.nanoseconds()
        try await waitForCompleted(Int(before) + configuration.warmup + configuration.count, probe)
        let finished = MonotonicClock.nanoseconds()
        return Report(
            samples: samples,
            startNanoseconds: start,
            acknowledgedNanoseconds: acknowledged,
            finishedNanoseconds: finished
        )
    }

    /// `tasks` submits shared by the clients, each client one at a time; every submit's latency.
    private static func round(_ clients: [SidecarClient], tasks: Int, tag: String) async throws -> [UInt64] {
        let json = Array(#"{"duration_ms":0,"kind":"bench"}"#.utf8)
        return try await withThrowingTaskGroup(of: [UInt64].self) { group in
            for (index, client) in clients.enumerated() {
                let share = tasks / clients.count + (index < tasks % clients.count ? 1 : 0)
                group.addTask {
                    var samples: [UInt64] = []
                    samples.reserveCapacity(share)
                    for _ in 0..<share {
                        let start = MonotonicClock.nanoseconds()
                        _ = try await client.submit(json: json)
                        samples.append(MonotonicClock.nanoseconds() - start)
                    }
                    return samples
                }
            }
            var all: [UInt64] = []
            for try await samples in group { all += samples }
            return all
        }
    }

    private static func waitUntilServing(_ client: SidecarClient) async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        while true {
            do {
                _ = try await client.status(timeout: .seconds(2))
                return
            } catch {
                guard ContinuousClock.now < deadline else {
                    throw BenchError("sidecar instance \(client.instance ?? "?") did not answer within 60 s: \(error)")
                }
                try await Task.sleep(for: .milliseconds(50))
            }
        }
    }

    /// Polls the status (an O(1) census read in the sidecar) until `completed` reaches `target`.
    private static func waitForCompleted(_ target: Int, _ client: SidecarClient) async throws {
        let deadline = ContinuousClock.now + .seconds(300)
        while try await Int(client.status().completed) < target {
            guard ContinuousClock.now < deadline else {
                let status = try await client.status()
                throw BenchError(
                    "tasks not finished after 300 s: completed \(status.completed) of \(target), "
                        + "pending \(status.pending), active \(status.active), failed \(status.failed)"
                )
            }
            try await Task.sleep(for: .milliseconds(2))
        }
    }
}
