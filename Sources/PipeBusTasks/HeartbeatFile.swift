public import Foundation

/// `heartbeat.json` (DESIGN §2): `<root>/workers/<worker>/heartbeat.json`, and each instance's
/// own, replaced atomically by the sidecar at every beat. The one definition, for the sidecar
/// that writes it and the client, the CLI and the runbook's snippets that read it.
///
/// Encoded as the sidecar always wrote it: keys sorted, indented, `timestamp` in ISO 8601 UTC
/// with milliseconds. A reader takes a file from an older or newer sidecar: only `timestamp`
/// is required; a missing key reads as its default.
public struct HeartbeatFile: Codable, Hashable, Sendable {
    /// When the sidecar beat.
    public var timestamp: Date
    /// Only increases, across restarts and across the instances of a worker.
    public var seq: UInt64
    /// The sidecar's pid.
    public var pid: Int
    public var worker: String
    public var instance: String
    /// The supervised worker's pid; 0 when the sidecar supervises none.
    public var workerPID: Int
    public var workerAlive: Bool
    /// `SERVING`, `NOT_SERVING`, …
    public var health: String
    public var healthMessage: String
    /// The time between beats, which says how old a heartbeat may be.
    public var intervalSeconds: Double
    /// Tasks in each state folder.
    public var counts: Counts
    public var leases: UInt32
    public var batchSize: UInt32
    /// Where the sidecar serves `/metrics` (`host:port`), when it does.
    public var metricsAddress: String?

    /// The number of tasks in each state folder.
    public struct Counts: Codable, Hashable, Sendable {
        public var pending: UInt32
        public var active: UInt32
        public var completed: UInt32
        public var failed: UInt32

        public init(pending: UInt32 = 0, active: UInt32 = 0, completed: UInt32 = 0, failed: UInt32 = 0) {
            self.pending = pending
            self.active = active
            self.completed = completed
            self.failed = failed
        }
    }

    public init(
        timestamp: Date,
        seq: UInt64,
        pid: Int,
        worker: String = "",
        instance: String = "",
        workerPID: Int = 0,
        workerAlive: Bool = true,
        health: String = "UNKNOWN",
        healthMessage: String = "",
        intervalSeconds: Double = 2,
        counts: Counts = Counts(),
        leases: UInt32 = 0,
        batchSize: UInt32 = 0,
        metricsAddress: String? = nil
    ) {
        self.timestamp = timestamp
        self.seq = seq
        self.pid = pid
        self.worker = worker
        self.instance = instance
        self.workerPID = workerPID
        self.workerAlive = workerAlive
        self.health = health
        self.healthMessage = healthMessage
        self.intervalSeconds = intervalSeconds
        self.counts = counts
        self.leases = leases
        self.batchSize = batchSize
        self.metricsAddress = metricsAddress
    }

    enum CodingKeys: String, CodingKey {
        case timestamp, seq, pid, worker, instance
        case workerPID = "worker_pid"
        case workerAlive = "worker_alive"
        case health
        case healthMessage = "health_message"
        case intervalSeconds = "interval_seconds"
        case counts, leases
        case batchSize = "batch_size"
        case metricsAddress = "metrics_address"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let text = try container.decode(String.self, forKey: .timestamp)
        guard let timestamp = Timestamp.date(text) else {
            throw DecodingError.dataCorruptedError(
                forKey: .timestamp,
                in: container,
                debugDescription: "not an ISO 8601 time: \(text.prefix(64))"
            )
        }
        let defaults = HeartbeatFile(timestamp: timestamp, seq: 0, pid: 0)
        func value<Value: Decodable>(_ key: CodingKeys, _ fallback: Value) -> Value {
            (try? container.decodeIfPresent(Value.self, forKey: key)) ?? fallback
        }
        self.init(
            timestamp: timestamp,
            seq: value(.seq, defaults.seq),
            pid: value(.pid, defaults.pid),
            worker: value(.worker, defaults.worker),
            instance: value(.instance, defaults.instance),
            workerPID: value(.workerPID, defaults.workerPID),
            workerAlive: value(.workerAlive, defaults.workerAlive),
            health: value(.health, defaults.health),
            healthMessage: value(.healthMessage, defaults.healthMessage),
            intervalSeconds: value(.intervalSeconds, defaults.intervalSeconds),
            counts: value(.counts, defaults.counts),
            leases: value(.leases, defaults.leases),
            batchSize: value(.batchSize, defaults.batchSize),
            metricsAddress: value(.metricsAddress, defaults.metricsAddress)
        )
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(Timestamp.iso8601(timestamp), forKey: .timestamp)
        try container.encode(seq, forKey: .seq)
        try container.encode(pid, forKey: .pid)
        try container.encode(worker, forKey: .worker)
        try container.encode(instance, forKey: .instance)
        try container.encode(workerPID, forKey: .workerPID)
        try container.encode(workerAlive, forKey: .workerAlive)
        try container.encode(health, forKey: .health)
        try container.encode(healthMessage, forKey: .healthMessage)
        try container.encode(intervalSeconds, forKey: .intervalSeconds)
        try container.encode(counts, forKey: .counts)
        try container.encode(leases, forKey: .leases)
        try container.encode(batchSize, forKey: .batchSize)
        try container.encodeIfPresent(metricsAddress, forKey: .metricsAddress)
    }

    /// The file's bytes, as the sidecar writes them: keys sorted, indented.
    public func encoded() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        return Array(try encoder.encode(self))
    }

    /// Reads a heartbeat file's bytes; throws unless they hold at least a valid `timestamp`.
    public init(json data: Data) throws {
        self = try JSONDecoder().decode(HeartbeatFile.self, from: data)
    }
}

extension HeartbeatFile {
    /// How fresh a heartbeat is: older than 3 intervals is suspect, older than 5 dead.
    public enum Liveness: String, Hashable, Sendable, CustomStringConvertible {
        case alive
        case suspect
        case dead
        public var description: String { rawValue }
    }

    /// Seconds since the beat; never negative (a clock a little ahead).
    public func age(now: Date = Date()) -> TimeInterval { max(0, now.timeIntervalSince(timestamp)) }

    public func liveness(now: Date = Date()) -> Liveness {
        let age = age(now: now)
        let interval = max(intervalSeconds, 0.001)
        if age > 5 * interval { return .dead }
        if age > 3 * interval { return .suspect }
        return .alive
    }
}
