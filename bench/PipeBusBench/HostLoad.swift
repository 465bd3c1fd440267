import FoundationEssentials

/// The machine's load, recorded with the results: a figure measured while other processes
/// compete for the pinned CPUs is noise, and the reader should be told.
enum HostLoad {
    /// The 1-minute load average from /proc/loadavg, or nil where it can't be read.
    static func oneMinuteAverage() -> Double? {
        guard let data = FileManager.default.contents(atPath: "/proc/loadavg"),
            let first = String(decoding: data, as: UTF8.self).split(separator: " ").first
        else { return nil }
        return Double(first)
    }

    /// A warning when the load exceeds half the CPUs this process may use (the harness itself
    /// keeps about one busy), or nil.
    static func warning(load: Double?) -> String? {
        guard let load, let cpus = CPUPinning.allowedCPUCount(), load > Double(cpus) / 2 + 0.5 else { return nil }
        return "note: load average \(ReportFormat.fixed(load, digits: 2)) on \(cpus) CPUs: "
            + "other processes compete for the pinned CPUs, so tails and ratios are noisy"
    }
}
