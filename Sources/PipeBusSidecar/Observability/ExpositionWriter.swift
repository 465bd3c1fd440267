/// Writes Prometheus text exposition format (version 0.0.4) for the families that the
/// `PrometheusCollectorRegistry` does not own: those whose source of truth is a cumulative value
/// kept elsewhere (PipeBusCore's lock-free `TransportMetrics`, the kernel's disk counters).
/// Rendering them at scrape time avoids copying deltas into registry counters, which would race
/// with the hot path and lose the exact cumulative value.
struct ExpositionWriter {
    private(set) var text = ""

    /// Labels every sample of this writer carries first (`worker`, `instance`), pre-rendered once.
    private let baseLabels: String

    init(baseLabels: [(String, String)]) {
        self.baseLabels = baseLabels.map { "\($0.0)=\"\(Self.escapeLabelValue($0.1))\"" }.joined(separator: ",")
    }

    /// Starts a family: promtool wants HELP and TYPE once per name, before its samples.
    mutating func family(_ name: String, type: String, help: String) {
        text += "# HELP \(name) \(Self.escapeHelp(help))\n# TYPE \(name) \(type)\n"
    }

    mutating func sample(_ name: String, labels: [(String, String)] = [], value: String) {
        var rendered = baseLabels.isEmpty ? [] : [baseLabels]
        rendered += labels.map { "\($0.0)=\"\(Self.escapeLabelValue($0.1))\"" }
        text += "\(name){\(rendered.joined(separator: ","))} \(value)\n"
    }

    mutating func sample(_ name: String, labels: [(String, String)] = [], value: UInt64) {
        sample(name, labels: labels, value: String(value))
    }

    /// Label values escape backslash, double quote and line feed; nothing else.
    static func escapeLabelValue(_ value: String) -> String {
        guard value.contains(where: { $0 == "\\" || $0 == "\"" || $0 == "\n" }) else { return value }
        var escaped = ""
        for character in value {
            switch character {
            case "\\": escaped += "\\\\"
            case "\"": escaped += "\\\""
            case "\n": escaped += "\\n"
            default: escaped.append(character)
            }
        }
        return escaped
    }

    /// HELP text escapes backslash and line feed (quotes are literal there).
    static func escapeHelp(_ help: String) -> String {
        var escaped = ""
        for character in help {
            switch character {
            case "\\": escaped += "\\\\"
            case "\n": escaped += "\\n"
            default: escaped.append(character)
            }
        }
        return escaped
    }

    /// An exact decimal number of seconds from integer nanoseconds (`1000` → `"0.000001"`), so
    /// `le` labels read as the bounds were written, without binary floating-point noise.
    static func seconds(nanoseconds: UInt64) -> String {
        let whole = nanoseconds / 1_000_000_000
        let fraction = nanoseconds % 1_000_000_000
        guard fraction > 0 else { return String(whole) }
        var digits = String(fraction)
        digits = String(repeating: "0", count: 9 - digits.count) + digits
        while digits.hasSuffix("0") { digits.removeLast() }
        return "\(whole).\(digits)"
    }
}
