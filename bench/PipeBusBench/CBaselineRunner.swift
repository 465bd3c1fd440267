import FoundationEssentials

/// Runs `pipebus-c-baseline` (bench/CBaseline), which forks its own server and pins both sides.
struct CBaselineRunner: Sendable {
    let executablePath: String
    let progress: ProgressLine
    /// Measured round trips per ping-pong case; streams send ten times as many small messages.
    var roundTrips: Int

    /// How long one run may take before it is killed as stuck.
    private static let timeout = Duration.seconds(120)

    /// Runs the case; `wrapper` runs the program under another (strace).
    func measure(_ baselineCase: CBaselineCase, wrapper: [String] = []) throws -> CBaselineMeasurement {
        let count = messageCount(for: baselineCase)
        var arguments = [
            baselineCase.mode.rawValue,
            "--size", String(baselineCase.payloadSize),
            "--iterations", String(count),
            "--warmup", String(max(1, count / 10)),
            "--client-cpu", String(baselineCase.placement.clientCPU),
            "--server-cpu", String(baselineCase.placement.serverCPU),
            "--spin-us", String(baselineCase.spinMicroseconds),
        ]
        if let pipeSize = baselineCase.pipeSize { arguments += ["--pipe-size", String(pipeSize)] }
        if baselineCase.mode == .pingPong || baselineCase.timesWrites { arguments.append("--samples") }
        if baselineCase.timesWrites { arguments.append("--time-writes") }
        if baselineCase.pollsFirst { arguments.append("--poll-first") }
        let command = wrapper + [executablePath] + arguments
        let process = try ChildProcess(executable: command[0], arguments: Array(command.dropFirst()))
        let output = try process.finish(timeout: Self.timeout) { progress.tick(elapsed: $0) }
        progress.relay(output.standardError)
        do {
            let report = try JSONDecoder().decode(CBaselineMeasurement.Report.self, from: Data(output.standardOutput))
            return CBaselineMeasurement(baselineCase: baselineCase, report: report)
        } catch {
            throw BenchError("pipebus-c-baseline printed no valid report for \(baselineCase.label): \(error)")
        }
    }

    /// Small messages are cheap enough to send many more of, which steadies their rate.
    private func messageCount(for baselineCase: CBaselineCase) -> Int {
        switch baselineCase.mode {
        case .pingPong: roundTrips
        case .stream: baselineCase.payloadSize <= 4096 ? roundTrips * 10 : roundTrips
        }
    }
}
