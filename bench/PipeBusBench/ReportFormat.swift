/// How the report writes durations, sizes and rates: one place, so that the table, the charts
/// and the progress line agree.
enum ReportFormat {
    /// A duration given in nanoseconds, to three significant digits: "812 ns", "5.89 µs", "1.65 ms";
    /// with `wholeUnits`, without decimals, for round axis ticks: "2 µs", "500 µs".
    static func nanoseconds(_ value: Double, wholeUnits: Bool = false) -> String {
        guard value.isFinite else { return "–" }
        let units: [(scale: Double, name: String)] = [(1e9, "s"), (1e6, "ms"), (1e3, "µs"), (1, "ns")]
        let unit = units.first { value >= $0.scale } ?? units[units.count - 1]
        let scaled = value / unit.scale
        return (wholeUnits ? fixed(scaled, digits: 0) : significant(scaled)) + " " + unit.name
    }

    /// A wall-clock duration for the progress line and the run summary: "3.2 s".
    static func seconds(_ duration: Duration) -> String {
        fixed(duration.inNanoseconds / 1e9, digits: 1) + " s"
    }

    /// A payload size: "64 B", "1 KiB", "64 KiB", "1.5 MiB".
    static func bytes(_ count: Int) -> String {
        let units: [(scale: Int, name: String)] = [(1 << 20, "MiB"), (1 << 10, "KiB")]
        for unit in units where count >= unit.scale {
            if count % unit.scale == 0 { return "\(count / unit.scale) \(unit.name)" }
            return significant(Double(count) / Double(unit.scale)) + " " + unit.name
        }
        return "\(count) B"
    }

    /// Events per second: "950", "167k", "1.10M".
    static func rate(_ perSecond: Double) -> String {
        guard perSecond.isFinite else { return "–" }
        if perSecond >= 1e6 { return significant(perSecond / 1e6) + "M" }
        if perSecond >= 1e3 { return significant(perSecond / 1e3) + "k" }
        return significant(perSecond)
    }

    /// Megabytes (10^6 bytes) per second: "10.7", "3487".
    static func megabytesPerSecond(_ value: Double) -> String {
        guard value.isFinite else { return "–" }
        return value >= 1000 ? fixed(value, digits: 0) : significant(value)
    }

    /// A ratio to the baseline: "1.00×".
    static func ratio(_ value: Double) -> String {
        guard value.isFinite else { return "–" }
        return fixed(value, digits: value >= 100 ? 0 : 2) + "×"
    }

    /// Three significant digits for values from 0.01 up; integers from 100 up.
    static func significant(_ value: Double) -> String {
        let magnitude = abs(value)
        let digits = magnitude >= 100 ? 0 : magnitude >= 10 ? 1 : 2
        return fixed(value, digits: digits)
    }

    /// `value` rounded to `digits` decimals (FoundationEssentials has no `String(format:)`).
    static func fixed(_ value: Double, digits: Int) -> String {
        guard value.isFinite else { return "–" }
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let scaled = (abs(value) * scale).rounded()
        guard scaled < 9e18 else { return "\(value)" }
        let units = UInt64(scaled)
        let whole = units / UInt64(scale)
        let sign = value < 0 && units != 0 ? "-" : ""
        guard digits > 0 else { return sign + String(whole) }
        let fraction = String(units % UInt64(scale))
        return sign + String(whole) + "." + String(repeating: "0", count: digits - fraction.count) + fraction
    }
}
