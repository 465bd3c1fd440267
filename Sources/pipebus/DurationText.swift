import ArgumentParser
import Foundation

/// Durations as the command line reads and writes them: `500ms`, `30s`, `5m`, `1h`, or a
/// sum of such parts (`1h30m`).
enum DurationText {
    static let hint = "use a number and a unit, e.g. 500ms, 30s, 5m, 1h"

    /// What a number without a unit means.
    enum BareNumber {
        /// A usage error: `--older-than 5` could be seconds or minutes, and `clear-stuck` acts on it.
        case refused
        /// Seconds: flags that took plain seconds before they took units (`--interval 0.5`).
        case seconds
    }

    /// Parses a duration; a malformed or negative one is a usage error (exit status 2).
    static func parse(_ text: String, bareNumber: BareNumber = .refused) throws -> Duration {
        let units: [(suffix: String, milliseconds: Double)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000)]
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else { throw ValidationError("empty duration: \(hint)") }
        if trimmed.hasPrefix("-") {
            throw ValidationError("\"\(text)\" is negative: a duration is how long (how long ago), never below 0; e.g. \(trimmed.dropFirst())")
        }
        if let seconds = Double(trimmed), seconds.isFinite {
            guard bareNumber == .seconds else {
                throw ValidationError("\"\(text)\" has no unit: write \(trimmed)s or \(trimmed)m (\(hint))")
            }
            return try milliseconds(seconds * 1000, text: text)
        }
        var rest = Substring(trimmed)
        var total = 0.0
        while !rest.isEmpty {
            let number = rest.prefix { $0.isNumber || $0 == "." }
            rest = rest.dropFirst(number.count)
            let unitText = rest.prefix { $0.isLetter }
            rest = rest.dropFirst(unitText.count)
            guard let value = Double(number), value >= 0,
                let unit = units.first(where: { $0.suffix == unitText })
            else {
                throw ValidationError("bad duration \"\(text)\": \(hint)")
            }
            total += value * unit.milliseconds
        }
        return try milliseconds(total, text: text)
    }

    private static func milliseconds(_ total: Double, text: String) throws -> Duration {
        guard total.isFinite, total < 1e15 else { throw ValidationError("duration \"\(text)\" is too long") }
        return .milliseconds(Int64(total.rounded()))
    }

    /// Seconds for a person: `850ms`, `12.3s`, `4m05s`, `2h03m`.
    static func format(seconds: Double) -> String {
        guard seconds.isFinite else { return "-" }
        let seconds = max(0, seconds)
        if seconds < 1 { return "\(Int((seconds * 1000).rounded()))ms" }
        if seconds < 60 { return String(format: "%.1fs", seconds) }
        let whole = Int(seconds)
        if whole < 3600 { return String(format: "%dm%02ds", whole / 60, whole % 60) }
        return String(format: "%dh%02dm", whole / 3600, (whole % 3600) / 60)
    }

    static func format(_ duration: Duration) -> String {
        format(seconds: seconds(duration))
    }

    static func seconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
