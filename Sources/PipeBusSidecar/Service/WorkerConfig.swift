import Foundation
import PipeBusCore

/// The worker config keys pipebus itself reads, with their defaults: the one definition the
/// sidecar applies and `pipebus config` shows and checks. Any other key in the file is the
/// worker's own, kept as given and never read by pipebus.
public enum WorkerConfig {
    /// A key pipebus reads: a whole number with a floor.
    public struct Key: Sendable {
        public let name: String
        public let defaultValue: Int
        public let minimum: Int
        /// What it changes, for `pipebus config`.
        public let summary: String

        /// Why `value` cannot be this key's value (it says what it got: `the string "7"`), or nil.
        public func problem(with value: Any) -> String? {
            if let number = WorkerConfig.wholeNumber(value), number >= minimum { return nil }
            return "\(name) must be a whole number ≥ \(minimum), got \(JSONValueText.describe(value))"
        }

        /// The value in effect for `object` (a config file's content): its own when valid, else the default.
        public func value(in object: [String: Any]) -> Int {
            object[name].flatMap { problem(with: $0) == nil ? WorkerConfig.wholeNumber($0) : nil } ?? defaultValue
        }
    }

    public static let batchSize = Key(
        name: "batch_size",
        defaultValue: 10,
        minimum: 1,
        summary: "tasks a pipe worker holds at once (leased and not yet finished)"
    )

    /// Retention (`TaskRetention`): how long, and how many, finished tasks stay in `completed/`
    /// and `failed/` before they move to the archive. 0 turns a limit off; by default a week.
    public static let completedMaxAgeSeconds = Key(
        name: "completed_max_age_seconds",
        defaultValue: 7 * 24 * 3600,
        minimum: 0,
        summary: "seconds a task stays in completed/ before it is archived (0: no age limit)"
    )

    public static let completedMaxCount = Key(
        name: "completed_max_count",
        defaultValue: 0,
        minimum: 0,
        summary: "tasks kept in completed/, the oldest beyond it archived (0: no count limit)"
    )

    public static let failedMaxAgeSeconds = Key(
        name: "failed_max_age_seconds",
        defaultValue: 7 * 24 * 3600,
        minimum: 0,
        summary: "seconds a task stays in failed/ before it is archived (0: no age limit)"
    )

    public static let failedMaxCount = Key(
        name: "failed_max_count",
        defaultValue: 0,
        minimum: 0,
        summary: "tasks kept in failed/, the oldest beyond it archived (0: no count limit)"
    )

    /// Every key pipebus reads, in the order `pipebus config` lists them.
    public static let keys = [batchSize, completedMaxAgeSeconds, completedMaxCount, failedMaxAgeSeconds, failedMaxCount]

    /// The retention limits in effect for `object` (a config file's content).
    public static func retention(in object: [String: Any]) -> RetentionPolicy {
        RetentionPolicy(
            completed: .init(maxAgeSeconds: completedMaxAgeSeconds.value(in: object), maxCount: completedMaxCount.value(in: object)),
            failed: .init(maxAgeSeconds: failedMaxAgeSeconds.value(in: object), maxCount: failedMaxCount.value(in: object))
        )
    }

    public static func key(named name: String) -> Key? {
        keys.first { $0.name == name }
    }

    /// `<root>/config/<worker>.json` (DESIGN §2).
    public static func path(root: String, worker: String) -> String {
        RootLayout(root: root).configPath(worker: worker)
    }

    /// The file a sidecar writes when there is none: every key at its default, as the
    /// runbook's `json.load` expects to find it.
    public static var defaultFileContent: [UInt8] {
        let defaults = Dictionary(uniqueKeysWithValues: keys.map { ($0.name, $0.defaultValue) })
        let data = (try? JSONSerialization.data(withJSONObject: defaults, options: [.sortedKeys, .prettyPrinted])) ?? Data("{}".utf8)
        return Array(data) + [UInt8(ascii: "\n")]
    }

    /// What is wrong with the known keys of `object`, one sentence each.
    public static func problems(in object: [String: Any]) -> [String] {
        keys.compactMap { key in object[key.name].flatMap { key.problem(with: $0) } }
    }

    /// The known key that an unknown `name` most likely means (`batchsize`, `batch-size`,
    /// `Batch_Size`, `bacth_size`), or nil.
    public static func suggestion(for name: String) -> String? {
        let folded = fold(name)
        return keys.first { key in
            let known = fold(key.name)
            return known == folded || editDistance(known, folded) <= 2
        }?.name
    }

    /// A JSON number that is a whole number (`5`, `5.0`), never `true`: Foundation gives a JSON
    /// boolean as an NSNumber that `as? Int` turns into 1.
    static func wholeNumber(_ value: Any) -> Int? {
        guard let number = value as? NSNumber, !JSONValueText.isBoolean(number) else { return nil }
        let double = number.doubleValue
        guard double.isFinite, double.rounded() == double, abs(double) < 1e15 else { return nil }
        return Int(double)
    }

    private static func fold(_ name: String) -> String {
        String(name.lowercased().filter { $0.isLetter || $0.isNumber })
    }

    private static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        guard !a.isEmpty else { return b.count }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in stride(from: 1, through: b.count, by: 1) {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
}
