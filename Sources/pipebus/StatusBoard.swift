import Foundation
import PipeBusClient
import PipeBusCore
import PipeBusTasks

/// One row of `pipebus status`: what one sidecar (an instance of a worker) answered, or why it
/// did not, its heartbeat file, and the client's breaker.
struct WorkerRow: Sendable {
    var worker: String
    var instance: String
    var status: Pipebus_Tasks_V1_WorkerStatus?
    var error: String?
    var heartbeat: HeartbeatFile?
    var breaker: CircuitBreaker.State
    /// Set when an operator retired the worker or this instance (`pipebus retire`).
    var retirement: Retirement? = nil

    var isReachable: Bool { status != nil }

    /// What `status` exits 1 for: no answer from a sidecar that was not retired.
    var isFailing: Bool { status == nil && retirement == nil }

    var healthText: String {
        guard let status else { return retirement == nil ? "UNREACHABLE" : "RETIRED" }
        return status.servingStatus.description
    }

    func heartbeatText(now: Date) -> String {
        guard let heartbeat else { return "-" }
        return "\(DurationText.format(seconds: heartbeat.age(now: now))) \(heartbeat.liveness(now: now))"
    }

    func cells(now: Date) -> [String] {
        guard let status else {
            return [worker, instance, healthText, heartbeatText(now: now), "-", "-", "-", "-", "-", "-", breaker.description]
        }
        let oldest =
            status.oldestActiveID.isEmpty
            ? "-"
            : "\(status.oldestActiveID) (\(DurationText.format(seconds: Double(status.oldestActiveAgeMs) / 1000)))"
        return [
            worker,
            instance,
            healthText,
            heartbeatText(now: now),
            "\(status.active)/\(status.batchSize)",
            "\(status.pending)",
            oldest,
            "\(status.completed)/\(status.failed)",
            "\(status.failuresLast5M)",
            status.p95WriteLatencySeconds > 0 ? Self.latency(status.p95WriteLatencySeconds) : "-",
            breaker.description,
        ]
    }

    func jsonObject(now: Date) -> [String: Any] {
        var object: [String: Any] = ["worker": worker, "instance": instance, "health": healthText, "breaker": breaker.description]
        if let status { object["status"] = status.jsonObject }
        if let error, retirement == nil { object["error"] = error }
        if let retirement { object["retired"] = retirement.jsonObject }
        if let heartbeat {
            object["heartbeat"] =
                [
                    "timestamp": Timestamp.iso8601(heartbeat.timestamp),
                    "seq": Int(heartbeat.seq),
                    "age_seconds": (heartbeat.age(now: now) * 1000).rounded() / 1000,
                    "liveness": heartbeat.liveness(now: now).description,
                ] as [String: Any]
        }
        return object
    }

    /// `38µs`, `1.2ms`.
    static func latency(_ seconds: Double) -> String {
        if seconds < 1e-3 { return "\(Int((seconds * 1e6).rounded()))µs" }
        if seconds < 1 { return String(format: "%.1fms", seconds * 1e3) }
        return String(format: "%.2fs", seconds)
    }
}

/// Collects and renders the status of every worker under a root.
struct StatusBoard: Sendable {
    let fleet: Fleet

    static let header = [
        "WORKER", "INSTANCE", "HEALTH", "HEARTBEAT", "ACTIVE", "QUEUE", "OLDEST ACTIVE", "DONE/FAILED", "FAIL 5m", "P95 WRITE",
        "BREAKER",
    ]

    func collect() async -> [WorkerRow] {
        let answers = await fleet.forEachInstance { client in try await client.status(timeout: .seconds(2)) }
        return answers.map { answer in
            let member = answer.member
            let client = fleet.client(for: member.worker, instance: member.instance)
            var row = WorkerRow(worker: member.worker, instance: member.instance, heartbeat: client.heartbeat(), breaker: client.breaker.state)
            row.retirement = Retirement.find(root: fleet.root, worker: member.worker, instance: member.instance)
            switch answer.result {
            case .success(let status): row.status = status
            case .failure(let error): row.error = CLIError(error, worker: member.worker).message
            }
            return row
        }
    }

    static func render(_ rows: [WorkerRow], now: Date = Date()) -> String {
        var text = TextTable.render(header: header, rows: rows.map { $0.cells(now: now) })
        let notes = rows.compactMap { row -> String? in
            if let retirement = row.retirement {
                let running = row.isReachable ? " — but its sidecar answers (undo: pipebus retire --worker \(row.worker) --undo)" : ""
                return "\(row.worker)/\(row.instance): \(retirement.summary)\(running)"
            }
            if let error = row.error { return "\(row.worker)/\(row.instance): \(error)" }
            if let status = row.status, !status.healthMessage.isEmpty {
                return "\(row.worker)/\(row.instance): \(status.healthMessage)"
            }
            return nil
        }
        if !notes.isEmpty { text += "\n\n" + notes.joined(separator: "\n") }
        return text
    }
}
