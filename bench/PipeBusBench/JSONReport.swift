import FoundationEssentials

/// What `--json FILE` writes: the run's settings and every result (latencies in nanoseconds).
struct JSONReport: Encodable {
    var tool = "pipebus-bench"
    var startedAt: Date
    var durationSeconds: Double
    var scenarios: [String]
    var roundTrips: Int
    /// The tuning flags that differ from the defaults, e.g. "spin 20 µs, no coalescing".
    var tuning: String?
    var allowedCPUCount: Int?
    /// The 1-minute load average when the run started and ended: above ~1 the figures are noisy.
    var loadAverageAtStart: Double?
    var loadAverageAtEnd: Double?
    var results: [BenchResult]

    func write(toFile path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        do {
            try encoder.encode(self).write(to: URL(filePath: path), options: .atomic)
        } catch {
            throw BenchError("cannot write \(path): \(error)")
        }
    }
}
