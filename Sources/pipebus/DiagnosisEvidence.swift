import Foundation
import PipeBusClient
import PipeBusCore
import PipeBusSidecar

/// What `pipebus diagnose` gathers before it judges: the runbook's "Immediate Actions" and
/// "Root Cause Analysis" readings, for every sidecar under a root and for the host. Gathering is
/// the only part that does I/O; `Diagnosis` turns this into findings with pure rules.
struct DiagnosisEvidence: Sendable {
    /// One sidecar (a worker, or an instance of a worker scaled out), as `status` shows it.
    struct Sidecar: Sendable {
        var row: WorkerRow
        /// Active tasks that have been in `active/` longer than the stuck bound (id, seconds in
        /// the state, as the sidecar reports it), oldest first.
        var stuck: [(id: String, seconds: Double)] = []
        /// Resident memory of the worker's process tree (the runbook's Claude memory), read
        /// from /proc on this host; nil when the worker pid is unknown or not visible here.
        var workerTreeRSSBytes: UInt64?
        /// Counters read twice from the sidecar's `/metrics`, nil without a metrics address.
        var counters: CounterReading?

        var worker: String { row.worker }
        var instance: String { row.instance }
    }

    /// Counter increases between two scrapes of one sidecar's `/metrics`.
    struct CounterReading: Sendable {
        var seconds: Double
        /// `pipe_connection_errors_total` increase, by reason (only reasons that increased).
        var pipeErrors: [String: Double]
        var claudeErrors: Double
        var claudeErrorsTotal: Double
    }

    /// Tasks of one worker that finished within the window, from its spool (as `incident`
    /// reads it): latency is finished minus `submitted_at`.
    struct Finished: Sendable {
        var count = 0
        var failed = 0
        var latencies: [Double] = []
        var slowest: (id: String, seconds: Double)?
        /// The most frequent error text of the failed tasks, and how many carry it.
        var commonError: (text: String, count: Int)?
    }

    /// The host this command runs on (the sidecars' host: FIFOs do not cross machines).
    struct Host: Sendable {
        var cpuPercent: Double?
        var memoryUsedBytes: UInt64?
        var memoryTotalBytes: UInt64
        var ioOperationsPerSecond: Double?
    }

    var root: String
    var now: Date
    var sidecars: [Sidecar]
    var finished: [String: Finished]
    var host: Host
    var window: Duration
}

extension DiagnosisEvidence {
    /// Gathers everything: status of every sidecar (as `status` does), its stuck tasks, the
    /// spool's recent finishes, two readings `sample` apart of each sidecar's counters and of
    /// the host's CPU and I/O.
    static func gather(
        deployment: Deployment,
        window: Duration,
        stuckAfter: Duration,
        sample: Duration
    ) async -> DiagnosisEvidence {
        let board = StatusBoard(fleet: deployment.fleet())
        let rows = await board.collect()
        var sidecars: [Sidecar] = []
        var listed = Set<String>()
        for row in rows {
            var sidecar = Sidecar(row: row)
            // Instances of a worker share its spool: its stuck tasks are listed once.
            if row.status != nil, row.retirement == nil, listed.insert(row.worker).inserted {
                let client = board.fleet.client(for: row.worker, instance: row.instance.isEmpty ? nil : row.instance)
                let stuck = (try? await client.tasks(state: .active, olderThan: stuckAfter, limit: 100)) ?? []
                let nowMs = Int64(Date().timeIntervalSince1970 * 1000)
                sidecar.stuck = stuck.map { ($0.id, Double(max(0, nowMs - $0.modifiedAtMs)) / 1000) }
                    .sorted { $0.seconds > $1.seconds }
            }
            sidecars.append(sidecar)
        }

        let sampler = ResourceSampler()
        let before = sampler.sample(treeRootedAt: nil)
        let firstScrape = sidecars.map { $0.row.heartbeat?.metricsAddress.flatMap(Self.scrape) }
        let started = ContinuousClock.now
        try? await Task.sleep(for: sample)
        let seconds = DurationText.seconds(started.duration(to: .now))
        let after = sampler.sample(treeRootedAt: nil)
        for index in sidecars.indices {
            let address = sidecars[index].row.heartbeat?.metricsAddress
            if let first = firstScrape[index], let second = address.flatMap(Self.scrape) {
                sidecars[index].counters = Self.reading(first, second, seconds: seconds)
            }
            if let pid = sidecars[index].row.status?.workerPid, pid > 0 {
                sidecars[index].workerTreeRSSBytes = ResourceSampler().sample(treeRootedAt: Int32(pid)).treeRSSBytes
            }
        }
        var io: Double?
        if let start = before.systemIOOperationsTotal, let end = after.systemIOOperationsTotal, end >= start, seconds > 0 {
            io = Double(end - start) / seconds
        }
        let host = Host(
            cpuPercent: after.systemCPUPercent,
            memoryUsedBytes: after.systemMemoryUsedBytes,
            memoryTotalBytes: ProcessInfo.processInfo.physicalMemory,
            ioOperationsPerSecond: io
        )

        let now = Date()
        var report = IncidentReport(root: deployment.root, window: window, threshold: stuckAfter, now: now)
        report.collect()
        var finished: [String: Finished] = [:]
        for task in report.finished {
            var entry = finished[task.worker, default: Finished()]
            entry.count += 1
            if task.failed { entry.failed += 1 }
            entry.latencies.append(task.latency)
            if task.latency > (entry.slowest?.seconds ?? -1) { entry.slowest = (task.id, task.latency) }
            finished[task.worker] = entry
        }
        for worker in finished.keys {
            let errors = report.finished.filter { $0.worker == worker && $0.failed }.map { $0.error ?? "(no error text)" }
            let counts = Dictionary(errors.map { ($0, 1) }, uniquingKeysWith: +)
            if let top = counts.max(by: { ($0.value, $1.key) < ($1.value, $0.key) }) {
                finished[worker]?.commonError = (top.key, top.value)
            }
        }
        return DiagnosisEvidence(
            root: deployment.root,
            now: now,
            sidecars: sidecars,
            finished: finished,
            host: host,
            window: window
        )
    }

    /// The counter samples of a `/metrics` page, by name and label text (`name{labels}`).
    static func scrape(_ address: String) -> [String: Double]? {
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]),
            String(address[..<colon]) == "127.0.0.1" || address.hasPrefix("localhost:"),
            let (status, body) = LocalHTTP.get(port: port, path: "/metrics"), status == 200
        else { return nil }
        var samples: [String: Double] = [:]
        for line in body.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            samples[String(line[..<space])] = value
        }
        return samples
    }

    static func reading(_ first: [String: Double], _ second: [String: Double], seconds: Double) -> CounterReading {
        func increase(_ key: String) -> Double { max(0, (second[key] ?? 0) - (first[key] ?? 0)) }
        var pipeErrors: [String: Double] = [:]
        var claudeErrors = 0.0
        var claudeErrorsTotal = 0.0
        for key in second.keys {
            if key.hasPrefix("pipe_connection_errors_total{"), let reason = label("reason", in: key) {
                let delta = increase(key)
                if delta > 0 { pipeErrors[reason, default: 0] += delta }
            } else if key.hasPrefix("claude_api_errors_total{") {
                claudeErrors += increase(key)
                claudeErrorsTotal += second[key] ?? 0
            }
        }
        return CounterReading(seconds: seconds, pipeErrors: pipeErrors, claudeErrors: claudeErrors, claudeErrorsTotal: claudeErrorsTotal)
    }

    /// A label's value in `name{a="x",b="y"}` (values here have no escaped quotes).
    static func label(_ name: String, in key: String) -> String? {
        guard let start = key.range(of: "\(name)=\"") else { return nil }
        let rest = key[start.upperBound...]
        return rest.firstIndex(of: "\"").map { String(rest[..<$0]) }
    }
}
