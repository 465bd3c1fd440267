import Foundation
import PipeBusCore
import PipeBusTasks
import PipeBusHealth

/// How tasks, statuses and events look on the command line: JSON objects for `--json`, and
/// table cells and lines for people.
extension Pipebus_Tasks_V1_Task {
    /// The task's own JSON object (the spool file), or nil if it does not parse.
    var object: [String: Any]? {
        try? TaskFile.parseObject(json)
    }

    /// Seconds since the task entered its state folder (`modified_at_ms`): its time in state.
    func age(now: Date = Date()) -> Double {
        max(0, now.timeIntervalSince1970 - Double(modifiedAtMs) / 1000)
    }

    /// For a completed or failed task, seconds from its submission to its end (the task file
    /// does not record when processing began); nil otherwise or when `submitted_at` is missing.
    var durationSeconds: Double? {
        guard state == .completed || state == .failed, submittedAtMs > 0, modifiedAtMs >= submittedAtMs else { return nil }
        return Double(modifiedAtMs - submittedAtMs) / 1000
    }

    /// The cells of `pipebus tasks`' table (`TaskRowPrinter.header`).
    func row(now: Date) -> [String] {
        [
            id, "\(state)", DurationText.format(seconds: age(now: now)),
            durationSeconds.map { DurationText.format(seconds: $0) } ?? "-", "\(attempts)",
            correlationID, errorText ?? "",
        ]
    }

    var jsonObject: [String: Any] {
        var result: [String: Any] = [
            "id": id,
            "state": state.description,
            "correlation_id": correlationID,
            "traceparent": traceparent,
            "attempts": Int(attempts),
            "modified_at": Timestamp.iso8601(milliseconds: modifiedAtMs),
            "age_seconds": (age() * 1000).rounded() / 1000,
        ]
        if submittedAtMs > 0 { result["submitted_at"] = Timestamp.iso8601(milliseconds: submittedAtMs) }
        if let durationSeconds { result["duration_seconds"] = durationSeconds }
        if let object { result["task"] = object }
        return result
    }

    /// `error` from the task file, when it failed.
    var errorText: String? {
        object.flatMap { TaskFile(object: $0).error }
    }
}

extension Pipebus_Tasks_V1_WorkerStatus {
    var servingStatus: Pipebus_Health_V1_HealthCheckResponse.ServingStatus { Pipebus_Health_V1_HealthCheckResponse.ServingStatus(rawValue: Int(health)) }

    var jsonObject: [String: Any] {
        [
            "worker": worker,
            "instance": instance,
            "pid": Int(pid),
            "worker_pid": Int(workerPid),
            "worker_alive": workerAlive,
            "health": servingStatus.description,
            "health_message": healthMessage,
            "pending": Int(pending),
            "active": Int(active),
            "completed": Int(completed),
            "failed": Int(failed),
            "oldest_active_id": oldestActiveID,
            "oldest_active_age_seconds": Double(oldestActiveAgeMs) / 1000,
            "failures_last_5m": Int(failuresLast5M),
            "p95_pipe_write_latency_seconds": p95WriteLatencySeconds,
            "heartbeat_seq": Int(heartbeatSeq),
            "batch_size": Int(batchSize),
            "leases": Int(leases),
        ]
    }
}

extension Pipebus_Tasks_V1_Event {
    /// One line for `pipebus watch`; `compact` leaves out the correlation id (the demo's ticker).
    func line(worker: String, compact: Bool = false) -> String {
        let time = Timestamp.clock(milliseconds: timestampMs)
        switch kind {
        case .heartbeat:
            guard let status else { return "\(time)  \(worker)  heartbeat #\(seq)" }
            var line = "\(time)  \(worker)  heartbeat  \(status.servingStatus)"
            line +=
                "  pending=\(status.pending) active=\(status.active) completed=\(status.completed) failed=\(status.failed)"
            line += " leases=\(status.leases)"
            if !status.healthMessage.isEmpty { line += "  (\(status.healthMessage))" }
            return line
        case .transition:
            var line = "\(time)  \(worker)  \(taskID)  \(fromState == .unspecified ? "new" : fromState.description) → \(toState)"
            if durationSeconds > 0 { line += "  \(DurationText.format(seconds: durationSeconds))" }
            if !correlationID.isEmpty && !compact { line += "  correlation_id=\(correlationID)" }
            if !error.isEmpty { line += "  error=\"\(error)\"" }
            return line
        case .unspecified, .unrecognized:
            return "\(time)  \(worker)  event #\(seq)"
        }
    }

    func jsonObject(worker: String) -> [String: Any] {
        var object: [String: Any] = [
            "worker": worker,
            "seq": Int(seq),
            "timestamp": Timestamp.iso8601(milliseconds: timestampMs),
        ]
        switch kind {
        case .heartbeat:
            object["kind"] = "heartbeat"
            if let status { object["status"] = status.jsonObject }
        case .transition, .unspecified, .unrecognized:
            object["kind"] = "transition"
            object["task_id"] = taskID
            object["from"] = fromState.description
            object["to"] = toState.description
            object["correlation_id"] = correlationID
            object["trace_id"] = traceID
            if durationSeconds > 0 { object["duration_seconds"] = durationSeconds }
            if !error.isEmpty { object["error"] = error }
        }
        return object
    }
}

/// Times as the command line prints them: ISO 8601 (`Timestamp.iso8601`) in JSON, and this
/// for people.
extension Timestamp {
    /// `HH:MM:SS.mmm`, local time.
    static func clock(milliseconds: Int64) -> String {
        let date = Date(timeIntervalSince1970: Double(milliseconds) / 1000)
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "HH:mm:ss.SSS"
        return formatter.string(from: date)
    }
}
