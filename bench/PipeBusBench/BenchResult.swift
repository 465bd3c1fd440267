import Histogram

/// One row of the report: one measurement of one case in one placement.
struct BenchResult: Codable, Sendable {
    /// The scenario that measured it, as named on the command line.
    var scenario: String
    /// What was measured within the scenario, e.g. "ping-pong" or "decode lz4 random".
    var label: String
    var placement: Placement
    /// Payload bytes per message (the frame adds its 5-byte header, and an envelope its fields).
    var payloadSize: Int
    /// How many operations were measured (round trips, messages, frames).
    var count: Int
    var latency: LatencySummary?
    var messagesPerSecond: Double?
    var megabytesPerSecond: Double?
    /// This result's cost over the raw-C baseline's: above 1 is slower than C.
    var ratioToBaseline: Double?
    /// What `ratioToBaseline` divides, e.g. "p50 / C ping-pong p50".
    var ratioBasis: String?
    /// gRPC rows: the gRPC peer's p50 / pipebus's echo p50 at the same size and placement, i.e.
    /// how many times lower pipebus's median is (the target is ≥ 20 at 64 B).
    var gRPCOverPipeBus: Double?
    var note: String?
    /// Every measured latency, for the CDF charts; not written to the JSON report.
    var histogram: Histogram<UInt64>?

    private enum CodingKeys: String, CodingKey {
        case scenario, label, placement, payloadSize, count, messagesPerSecond, megabytesPerSecond
        case ratioToBaseline, ratioBasis, note
        case gRPCOverPipeBus = "grpcP50OverPipeBusP50"
        case latency = "latencyNanoseconds"
    }

    init(
        scenario: String,
        label: String,
        placement: Placement,
        payloadSize: Int,
        count: Int,
        latency: LatencySummary? = nil,
        messagesPerSecond: Double? = nil,
        megabytesPerSecond: Double? = nil,
        ratioToBaseline: Double? = nil,
        ratioBasis: String? = nil,
        note: String? = nil,
        histogram: Histogram<UInt64>? = nil
    ) {
        self.scenario = scenario
        self.label = label
        self.placement = placement
        self.payloadSize = payloadSize
        self.count = count
        self.latency = latency
        self.messagesPerSecond = messagesPerSecond
        self.megabytesPerSecond = megabytesPerSecond
        self.ratioToBaseline = ratioToBaseline
        self.ratioBasis = ratioBasis
        self.note = note
        self.histogram = histogram
    }
}
