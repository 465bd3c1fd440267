/// One configuration of `pipebus-c-baseline`: what it measures, at which size, where.
struct CBaselineCase: Hashable, Sendable {
    enum Mode: String, Sendable {
        /// One frame out, its echo back, timed per round trip.
        case pingPong = "pingpong"
        /// One-way frames, one `write` each, read in big chunks; throughput only.
        case stream
    }

    var mode: Mode
    var payloadSize: Int
    var placement: Placement
    /// Spin this long on non-blocking reads (with `sched_yield`) before sleeping in `poll`.
    var spinMicroseconds: Int = 0

    /// For progress lines and labels: "ping-pong 64 B two-vCPU".
    var label: String {
        let spin = spinMicroseconds > 0 ? " spin \(spinMicroseconds) µs" : ""
        return "\(mode.label) \(ReportFormat.bytes(payloadSize)) \(placement.rawValue)\(spin)"
    }
}

extension CBaselineCase.Mode {
    /// The name a result row shows.
    var label: String {
        switch self {
        case .pingPong: "ping-pong"
        case .stream: "stream"
        }
    }
}
