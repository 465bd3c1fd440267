import ArgumentParser
import Foundation

/// Durations as the command line reads and writes them: `500ms`, `30s`, `5m`, `1h`, or a
/// sum of such parts (`1h30m`).
enum DurationText {
    static let hint = "use a number and a unit, e.g. 500ms, 30s, 5m, 1h"

    /// Parses a duration; a malformed one is a usage error (exit status 2).
    static func parse(_ text: String) throws -> Duration {
        let units: [(suffix: String, milliseconds: Double)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000)]
        var rest = Substring(text.trimmingCharacters(in: .whitespaces))
        var total = 0.0
        guard !rest.isEmpty else { throw ValidationError("empty duration: \(hint)") }
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
