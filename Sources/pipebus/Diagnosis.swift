import Foundation
import PipeBusClient
import PipeBusCore

/// What `pipebus diagnose` concludes: findings ranked by severity, each with its evidence and
/// the runbook's mitigation as the exact `pipebus` command to run (never run by diagnose).
/// Pure: built from `DiagnosisEvidence` and thresholds, so every rule is testable on its own.
struct Diagnosis: Sendable {
    enum Severity: Int, Comparable, Sendable, CustomStringConvertible {
        /// Worth knowing; nothing to do.
        case notice = 0
        /// Needs action soon.
        case warning = 1
        /// Needs action now: work is not being done.
        case critical = 2

        static func < (lhs: Severity, rhs: Severity) -> Bool { lhs.rawValue < rhs.rawValue }

        var description: String {
            switch self {
            case .notice: "notice"
            case .warning: "warning"
            case .critical: "critical"
            }
        }
    }

    struct Finding: Sendable {
        var severity: Severity
        /// A stable name for scripts: `sidecar_down`, `stuck_tasks`, `failure_rate`, …
        var kind: String
        var worker: String?
        var instance: String?
        var summary: String
        var evidence: [String]
        /// The runbook step this follows, in words.
        var mitigation: String
        /// The exact commands to run, in order (diagnose never runs them).
        var commands: [String]
    }

    /// Where a reading becomes a finding; the defaults are the runbook's and the alerts'.
    struct Thresholds: Sendable {
        /// Active longer than this is stuck (the runbook's 5 minutes, `clear-stuck`'s default).
        var stuckAfter: Duration = .seconds(300)
        /// The alert's P95 bound on task latency.
        var slowSeconds: Double = 30
        /// Failed among finished tasks in the window, with at least `minimumFinished` finished.
        var failureRatio: Double = 0.25
        var minimumFinished = 4
        /// Tasks waiting for each slot of the batch before the queue is a backlog.
        var backlogPerSlot = 10
        /// Pipe writes normally take microseconds; a P95 this high means a reader stalls.
        var pipeWriteP95Seconds: Double = 0.050
        /// The runbook: "system_cpu_usage_percent should be < 80%".
        var cpuPercent: Double = 80
        var memoryRatio: Double = 0.9
        /// A worker process tree using more than this share of the host's memory.
        var workerMemoryRatio: Double = 0.5
    }

    var findings: [Finding]

    /// Anything at warning or above: `diagnose` exits 1.
    var needsAction: Bool { findings.contains { $0.severity >= .warning } }

    init(_ evidence: DiagnosisEvidence, thresholds: Thresholds = Thresholds()) {
        let rules = Rules(evidence: evidence, thresholds: thresholds)
        var findings: [Finding] = []
        for sidecar in evidence.sidecars { findings += rules.sidecar(sidecar) }
        for worker in Set(evidence.sidecars.map(\.worker)).sorted() {
            findings += rules.worker(worker, sidecars: evidence.sidecars.filter { $0.worker == worker })
        }
        findings += rules.host()
        // Most severe first; then by worker and kind, so that the order is stable.
        self.findings = findings.enumerated().sorted { lhs, rhs in
            if lhs.element.severity != rhs.element.severity { return lhs.element.severity > rhs.element.severity }
            return lhs.offset < rhs.offset
        }.map(\.element)
    }
}

/// The rules, one method per thing the runbook checks.
private struct Rules {
    let evidence: DiagnosisEvidence
    let thresholds: Diagnosis.Thresholds

    /// `pipebus …` with `--root` when the root is not the default.
    func command(_ words: String) -> String {
        let root = evidence.root == "/shared" ? "" : " --root \(Self.quoted(evidence.root))"
        let space = words.firstIndex(of: " ") ?? words.endIndex
        return "pipebus \(words[..<space])\(root)\(words[space...])"
    }

    static func quoted(_ text: String) -> String {
        let plain = text.allSatisfy { $0.isLetter || $0.isNumber || "/._-+=:@".contains($0) }
        return plain ? text : "'\(text.replacingOccurrences(of: "'", with: "'\\''"))'"
    }

    /// Whether `worker` runs as several instances: only then do commands and names carry one.
    func isScaledOut(_ worker: String) -> Bool {
        evidence.sidecars.count { $0.worker == worker } > 1
    }

    func instanceFlag(_ sidecar: DiagnosisEvidence.Sidecar) -> String {
        sidecar.instance.isEmpty || !isScaledOut(sidecar.worker) ? "" : " --instance \(sidecar.instance)"
    }

    /// A duration as a flag takes it, the way a person types it (`5m`, `90s`, `1h`, `500ms`),
    /// so that a printed command reads like the runbook's.
    static func flag(_ duration: Duration) -> String {
        let milliseconds = Int64((DurationText.seconds(duration) * 1000).rounded())
        if milliseconds % 1000 != 0 { return "\(milliseconds)ms" }
        let seconds = milliseconds / 1000
        if seconds % 3600 == 0 { return "\(seconds / 3600)h" }
        if seconds % 60 == 0 { return "\(seconds / 60)m" }
        return "\(seconds)s"
    }

    func age(_ seconds: Double) -> String { DurationText.format(seconds: seconds) }

    /// Status, heartbeat, health, stuck tasks, pipes and the worker's process of one sidecar.
    func sidecar(_ sidecar: DiagnosisEvidence.Sidecar) -> [Diagnosis.Finding] {
        let row = sidecar.row
        let worker = row.worker
        let instance = row.instance.isEmpty || !isScaledOut(worker) ? nil : row.instance
        let name = instance.map { "\(worker)/\($0)" } ?? worker
        let heartbeatText =
            row.heartbeat.map {
                "heartbeat.json: \(age($0.age(now: evidence.now))) old (\($0.liveness(now: evidence.now))), seq \($0.seq), sidecar pid \($0.pid)"
            } ?? "no heartbeat.json"
        if row.retirement != nil { return [] }
        guard let status = row.status else {
            // The runbook's "Check Worker Health": no answer, and a heartbeat that stopped.
            return [
                Diagnosis.Finding(
                    severity: .critical,
                    kind: "sidecar_down",
                    worker: worker,
                    instance: instance,
                    summary: "the sidecar of \(name) does not answer",
                    evidence: [row.error ?? "no answer", heartbeatText, "circuit breaker \(row.breaker)"],
                    mitigation:
                        "Start the sidecar again with its usual command line (it takes its spool back and re-queues the tasks it had leased); if the worker is gone for good, retire it.",
                    commands: [
                        command("health --worker \(worker)\(instanceFlag(sidecar))"),
                        command("retire --worker \(worker)\(instanceFlag(sidecar)) --reason 'gone for good'"),
                    ]
                )
            ]
        }
        var findings: [Diagnosis.Finding] = []
        if status.servingStatus != .serving {
            let workerExited = !status.workerAlive
            findings.append(
                Diagnosis.Finding(
                    severity: .critical,
                    kind: workerExited ? "worker_exited" : "not_serving",
                    worker: worker,
                    instance: instance,
                    summary: "\(name) is \(status.servingStatus)\(status.healthMessage.isEmpty ? "" : ": \(status.healthMessage)")",
                    evidence: [
                        "health \(status.servingStatus)\(status.healthMessage.isEmpty ? "" : " (\(status.healthMessage))")",
                        "worker pid \(status.workerPid), \(status.workerAlive ? "alive" : "not running")",
                    ],
                    mitigation: workerExited
                        ? "The supervised worker is not running: its sidecar's log says why; restart the sidecar to start it again."
                        : "Fix what the health message names (a full or read-only spool, no pipe worker leasing).",
                    commands: [command("health --worker \(worker)\(instanceFlag(sidecar))")]
                )
            )
        }
        if let heartbeat = row.heartbeat, heartbeat.liveness(now: evidence.now) != .alive {
            findings.append(
                Diagnosis.Finding(
                    severity: .warning,
                    kind: "heartbeat_stale",
                    worker: worker,
                    instance: instance,
                    summary: "the heartbeat of \(name) is \(age(heartbeat.age(now: evidence.now))) old although its sidecar answers",
                    evidence: [heartbeatText, "interval \(age(heartbeat.intervalSeconds))"],
                    mitigation: "The sidecar answers but does not beat: it may be starved of CPU or its root not writable.",
                    commands: [command("watch --worker \(worker)")]
                )
            )
        }
        if !sidecar.stuck.isEmpty {
            let stuckAfter = Self.flag(thresholds.stuckAfter)
            let listed = sidecar.stuck.prefix(5).map { "\($0.id) active for \(age($0.seconds))" }
            findings.append(
                Diagnosis.Finding(
                    severity: .critical,
                    kind: "stuck_tasks",
                    worker: worker,
                    instance: nil,
                    summary: "\(sidecar.stuck.count) task(s) of \(worker) stuck in active/ for longer than \(stuckAfter)",
                    evidence: listed + (sidecar.stuck.count > 5 ? ["… and \(sidecar.stuck.count - 5) more"] : []),
                    mitigation:
                        "The runbook's \"Clear stuck tasks\": move them to failed/ for investigation (list them first).",
                    commands: [
                        command("tasks --worker \(worker) --state active --older-than \(stuckAfter)"),
                        command("clear-stuck --worker \(worker) --older-than \(stuckAfter)"),
                    ]
                )
            )
        }
        if status.p95WriteLatencySeconds > thresholds.pipeWriteP95Seconds {
            findings.append(
                Diagnosis.Finding(
                    severity: .warning,
                    kind: "pipe_write_latency",
                    worker: worker,
                    instance: instance,
                    summary: "pipe writes of \(name) are slow: P95 \(WorkerRow.latency(status.p95WriteLatencySeconds))",
                    evidence: [
                        "pipe_write_latency_seconds P95 \(WorkerRow.latency(status.p95WriteLatencySeconds)) (bound \(WorkerRow.latency(thresholds.pipeWriteP95Seconds)))"
                    ],
                    mitigation: "A slow reader holds the pipe: look for a client that stopped reading, and at host CPU.",
                    commands: [command("status")]
                )
            )
        }
        if let counters = sidecar.counters {
            let total = counters.pipeErrors.values.reduce(0, +)
            if total > 0 {
                let reasons = counters.pipeErrors.sorted { $0.key < $1.key }.map { "\($0.key) +\(Int($0.value))" }
                findings.append(
                    Diagnosis.Finding(
                        severity: .warning,
                        kind: "pipe_errors",
                        worker: worker,
                        instance: instance,
                        summary: "\(Int(total)) pipe connection error(s) on \(name) in \(age(counters.seconds))",
                        evidence: ["pipe_connection_errors_total: " + reasons.joined(separator: ", ")],
                        mitigation: "The runbook's \"Named Pipe Communication\": the sidecar's log names the connections and reasons.",
                        commands: [command("watch --worker \(worker)")]
                    )
                )
            }
            if counters.claudeErrors > 0 {
                findings.append(
                    Diagnosis.Finding(
                        severity: .warning,
                        kind: "claude_errors",
                        worker: worker,
                        instance: instance,
                        summary: "\(Int(counters.claudeErrors)) Claude invocation error(s) on \(name) in \(age(counters.seconds))",
                        evidence: ["claude_api_errors_total +\(Int(counters.claudeErrors)) (\(Int(counters.claudeErrorsTotal)) since the sidecar started)"],
                        mitigation: "The runbook's \"Claude Process Issues\": look at the failed tasks' errors.",
                        commands: [command("tasks --worker \(worker) --state failed --limit 10")]
                    )
                )
            }
        }
        if let rss = sidecar.workerTreeRSSBytes, evidence.host.memoryTotalBytes > 0,
            Double(rss) > thresholds.workerMemoryRatio * Double(evidence.host.memoryTotalBytes)
        {
            findings.append(
                Diagnosis.Finding(
                    severity: .warning,
                    kind: "claude_memory",
                    worker: worker,
                    instance: instance,
                    summary: "the worker process tree of \(name) uses \(Self.bytes(rss)) of \(Self.bytes(evidence.host.memoryTotalBytes))",
                    evidence: ["claude_memory_usage_bytes \(rss) (worker pid \(status.workerPid))"],
                    mitigation: "Fewer tasks at once lower the worker's memory: the runbook's batch-size tuning.",
                    commands: [command("config --worker \(worker) batch_size=\(max(1, Int(status.batchSize) / 2))")]
                )
            )
        }
        return findings
    }

    /// A worker's spool over the window: slow tasks, failures, backlog.
    func worker(_ worker: String, sidecars: [DiagnosisEvidence.Sidecar]) -> [Diagnosis.Finding] {
        guard let status = sidecars.compactMap({ $0.row.status }).first, !sidecars.allSatisfy({ $0.row.retirement != nil })
        else { return [] }
        var findings: [Diagnosis.Finding] = []
        let window = DurationText.format(evidence.window)
        let batch = Int(status.batchSize)
        if let finished = evidence.finished[worker], finished.count > 0 {
            let p95 = Self.quantile(0.95, of: finished.latencies)
            if p95 > thresholds.slowSeconds {
                var facts = [
                    "P95 latency \(age(p95)) over \(finished.count) task(s) finished in the last \(window) (alert bound \(age(thresholds.slowSeconds)))"
                ]
                if let slowest = finished.slowest { facts.append("slowest: \(slowest.id), \(age(slowest.seconds))") }
                facts.append("batch_size \(batch), \(status.active) active, \(status.pending) pending")
                findings.append(
                    Diagnosis.Finding(
                        severity: .warning,
                        kind: "slow_tasks",
                        worker: worker,
                        summary: "tasks of \(worker) are slow: P95 \(age(p95)) (> \(age(thresholds.slowSeconds)))",
                        evidence: facts,
                        mitigation: "The runbook's \"Performance Tuning\": halve the batch size while latency is high.",
                        commands: batch > 5
                            ? [command("config --worker \(worker) batch_size=\(batch / 2)")]
                            : [command("tasks --worker \(worker) --state completed --limit 10")]
                    )
                )
            }
            let ratio = Double(finished.failed) / Double(finished.count)
            if finished.count >= thresholds.minimumFinished, ratio > thresholds.failureRatio {
                var facts = ["\(finished.failed) of \(finished.count) tasks finished in the last \(window) failed (\(Int((ratio * 100).rounded())) %)"]
                if let common = finished.commonError {
                    facts.append("most common error (\(common.count)×): \(common.text.prefix(200))")
                }
                findings.append(
                    Diagnosis.Finding(
                        severity: .warning,
                        kind: "failure_rate",
                        worker: worker,
                        summary: "\(Int((ratio * 100).rounded())) % of the tasks of \(worker) fail",
                        evidence: facts,
                        mitigation:
                            "The runbook's error-rate check: read the failed tasks' errors; replay one once the cause is fixed.",
                        commands: [command("tasks --worker \(worker) --state failed --limit 10")]
                    )
                )
            }
        }
        let backlog = max(1, batch) * thresholds.backlogPerSlot
        if Int(status.pending) > backlog {
            findings.append(
                Diagnosis.Finding(
                    severity: .warning,
                    kind: "queue_backlog",
                    worker: worker,
                    summary: "\(status.pending) tasks of \(worker) are waiting (more than \(thresholds.backlogPerSlot) per batch slot)",
                    evidence: ["task_queue_depth \(status.pending), \(status.active) active, batch_size \(batch)"],
                    mitigation:
                        "The runbook's \"Scale workers horizontally\": run the same sidecar command line with another --instance (they share the spool).",
                    commands: [command("status")]
                )
            )
        }
        return findings
    }

    /// The host's CPU and memory (the runbook's "Resource Bottlenecks"): one reading per host,
    /// however many sidecars run on it.
    func host() -> [Diagnosis.Finding] {
        var findings: [Diagnosis.Finding] = []
        let host = evidence.host
        if let cpu = host.cpuPercent, cpu > thresholds.cpuPercent {
            findings.append(
                Diagnosis.Finding(
                    severity: .warning,
                    kind: "host_cpu",
                    summary: String(format: "the host's CPU is %.0f %% busy (runbook: should be < %.0f %%)", cpu, thresholds.cpuPercent),
                    evidence: [String(format: "system_cpu_usage_percent %.1f", cpu)]
                        + (host.ioOperationsPerSecond.map { [String(format: "disk I/O %.0f operations/s", $0)] } ?? []),
                    mitigation: "The workers compete for CPU: fewer tasks at once per worker (batch size), or another host.",
                    commands: [command("status")]
                )
            )
        }
        if let used = host.memoryUsedBytes, host.memoryTotalBytes > 0,
            Double(used) > thresholds.memoryRatio * Double(host.memoryTotalBytes)
        {
            findings.append(
                Diagnosis.Finding(
                    severity: .warning,
                    kind: "host_memory",
                    summary: "the host's memory is \(Int(Double(used) / Double(host.memoryTotalBytes) * 100)) % used",
                    evidence: ["system_memory_usage_bytes \(used) of \(host.memoryTotalBytes)"],
                    mitigation: "Look for the biggest worker process tree (claude_memory_usage_bytes) and lower its batch size.",
                    commands: [command("status")]
                )
            )
        }
        return findings
    }

    /// The nearest-rank quantile of `values` (0 when empty).
    static func quantile(_ q: Double, of values: [Double]) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        let rank = Int((q * Double(sorted.count)).rounded(.up)) - 1
        return sorted[min(max(rank, 0), sorted.count - 1)]
    }

    static func bytes(_ count: UInt64) -> String {
        let mib = Double(count) / 1_048_576
        return mib >= 1024 ? String(format: "%.1f GiB", mib / 1024) : String(format: "%.0f MiB", mib)
    }
}
