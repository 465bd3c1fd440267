public import Foundation
import PipeBusCore

/// A worker's `heartbeat.json`, and how alive it says the worker is.
public struct Heartbeat: Hashable, Sendable {
    public var timestamp: Date
    public var seq: UInt64
    public var intervalSeconds: Double
    public var health: String
    public var workerAlive: Bool
    public var pid: Int
    public var workerPID: Int
    /// Where the sidecar serves `/metrics` (`host:port`), when it does.
    public var metricsAddress: String?

    /// How fresh a heartbeat is: older than 3 intervals is suspect, older than 5 dead.
    public enum Liveness: String, Hashable, Sendable, CustomStringConvertible {
        case alive
        case suspect
        case dead
        public var description: String { rawValue }
    }

    public init(json data: Data) throws {
        guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any],
              let stamp = object["timestamp"] as? String,
              let timestamp = Self.parse(stamp)
        else {
            throw CocoaError(.coderReadCorrupt)
        }
        self.timestamp = timestamp
        self.seq = UInt64((object["seq"] as? Int) ?? 0)
        self.intervalSeconds = (object["interval_seconds"] as? Double) ?? Double((object["interval_seconds"] as? Int) ?? 2)
        self.health = (object["health"] as? String) ?? "UNKNOWN"
        self.workerAlive = (object["worker_alive"] as? Bool) ?? true
        self.pid = (object["pid"] as? Int) ?? 0
        self.workerPID = (object["worker_pid"] as? Int) ?? 0
        self.metricsAddress = object["metrics_address"] as? String
    }

    public func age(now: Date = Date()) -> TimeInterval { max(0, now.timeIntervalSince(timestamp)) }

    public func liveness(now: Date = Date()) -> Liveness {
        let age = age(now: now)
        let interval = max(intervalSeconds, 0.001)
        if age > 5 * interval { return .dead }
        if age > 3 * interval { return .suspect }
        return .alive
    }

    /// An ISO 8601 time with or without fractional seconds, as heartbeats and tasks'
    /// `submitted_at` carry it. By hand (`ISO8601Timestamp`), not through ICU, which a long
    /// fraction in a task file crashes.
    public static func parse(_ text: String) -> Date? {
        ISO8601Timestamp.parse(text).map { Date(timeIntervalSince1970: Double($0.seconds) + Double($0.nanoseconds) / 1_000_000_000) }
    }
}
