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
    /// `F_SETPIPE_SZ` on both FIFOs; nil keeps the system's default (64 KiB here).
    var pipeSize: Int? = nil
    /// Stream only: time every `write()` of the sender, as pipebus's write-latency histogram
    /// does. It slows the sender a little, so such a run is a case of its own.
    var timesWrites = false
    /// Read as pipebus does: non-blocking, after a `poll` on the FIFO and an eventfd (the
    /// client with a 5 ms timeout, pipebus's leader budget). Separates what pipebus's syscall
    /// pattern costs from what its code costs.
    var pollsFirst = false

    /// For progress lines and labels: "ping-pong 64 B two-vCPU".
    var label: String {
        let spin = spinMicroseconds > 0 ? " spin \(spinMicroseconds) µs" : ""
        let pipe = pipeSize.map { " pipe \(ReportFormat.bytes($0))" } ?? ""
        let writes = timesWrites ? " timing writes" : ""
        let poll = pollsFirst ? " poll-first" : ""
        return "\(mode.label) \(ReportFormat.bytes(payloadSize)) \(placement.rawValue)\(spin)\(pipe)\(writes)\(poll)"
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
