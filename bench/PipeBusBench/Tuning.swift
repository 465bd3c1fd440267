import PipeBusPipes

/// The run command's tuning flags, applied to every scenario where they make sense (see
/// bench/README.md), and to the C baseline cases those scenarios divide by.
struct Tuning: Sendable, Hashable {
    /// `--pipe-buffer`: `F_SETPIPE_SZ` asked by pipebus on both directions, and by the C baseline.
    var pipeBufferSize: Int = PipeServer.Configuration.defaults.pipeBufferSize
    /// `--no-coalescing` clears this: the server's `flushThreshold` becomes 0.
    var coalescing = true
    /// `--spin-us`: spin on non-blocking reads (with `sched_yield`) before `poll`, both sides.
    var spinMicroseconds = 0
    /// `--compression-threshold`: LZ4 threshold of the compression scenario's "lz4" cases.
    var compressionThreshold = 1024

    /// The transport settings of a scenario that doesn't vary them itself.
    var transport: TransportSettings {
        TransportSettings(
            spinMicroseconds: spinMicroseconds,
            pipeBufferSize: pipeBufferSize,
            flushThreshold: coalescing ? nil : 0
        )
    }

    /// The C baseline case for `mode` at `size` in `placement`, with this run's spin and pipe size.
    func baselineCase(_ mode: CBaselineCase.Mode, size: Int, placement: Placement) -> CBaselineCase {
        CBaselineCase(
            mode: mode,
            payloadSize: size,
            placement: placement,
            spinMicroseconds: spinMicroseconds,
            pipeSize: pipeBufferSize
        )
    }

    /// Flags that differ from the defaults, for the report: "spin 20 µs, no coalescing".
    var summary: String {
        var parts: [String] = []
        if pipeBufferSize != Tuning().pipeBufferSize { parts.append("pipe \(ReportFormat.bytes(pipeBufferSize))") }
        if !coalescing { parts.append("no coalescing") }
        if spinMicroseconds > 0 { parts.append("spin \(spinMicroseconds) µs") }
        if compressionThreshold != Tuning().compressionThreshold {
            parts.append("lz4 threshold \(ReportFormat.bytes(compressionThreshold))")
        }
        return parts.joined(separator: ", ")
    }
}
