import Synchronization

/// What every scenario runs with: the progress line, peer processes, the placements this
/// machine allows, and the raw-C baseline.
///
/// Baseline cases are measured once per scenario, when its first row needs them, and shared by
/// its rows: a ratio divides by a C figure taken minutes, not a whole run, away. (This machine's
/// speed swung 2× within minutes: against one baseline from the start of a run, the same 64 B
/// echo read 1.54× C in `rtt` and 0.98× in `spin` half an hour later.) Each row's
/// `ratioBasis` gives the C figure it divides by.
final class BenchContext: Sendable {
    let progress: ProgressLine
    let peers: PeerLauncher
    /// The two-process placements to measure: both, unless this process may use only one CPU.
    let placements: [Placement]
    /// Measured round trips per ping-pong case.
    let roundTrips: Int
    /// The run command's tuning flags.
    let tuning: Tuning

    private let cBaselinePath: String
    private let measuredBaselines = Mutex<[CBaselineCase: CBaselineMeasurement]>([:])
    private let sharedMeasurements = Mutex<[String: any Sendable]>([:])

    init(roundTrips: Int, tuning: Tuning, progress: ProgressLine) throws {
        self.progress = progress
        self.roundTrips = roundTrips
        self.tuning = tuning
        self.peers = PeerLauncher(harnessPath: try ExecutableLookup.harness(), progress: progress)
        // Every scenario's ratios need the C baseline: without it, fail before measuring anything.
        self.cBaselinePath = try ExecutableLookup.cBaseline()
        if let count = CPUPinning.allowedCPUCount(), count < 2 {
            progress.relay("note: only \(count) CPU allowed; measuring the same-vCPU placement only")
            self.placements = [.sameVCPU]
        } else {
            self.placements = Placement.crossProcess
        }
    }

    /// Forgets the C baselines measured so far: the next scenario measures its own.
    func beginScenario() {
        measuredBaselines.withLock { $0.removeAll() }
    }

    /// The C baseline for `baselineCase`, measured on its first use in this scenario.
    ///
    /// Blocks the calling thread while the C program runs (bounded by its timeout): the
    /// orchestrating process has nothing else to do meanwhile.
    func baseline(_ baselineCase: CBaselineCase) throws -> CBaselineMeasurement {
        if let measured = measuredBaselines.withLock({ $0[baselineCase] }) { return measured }
        progress.begin("[C baseline] \(baselineCase.label)")
        let measurement = try cBaselineRunner(roundTrips: roundTrips).measure(baselineCase)
        measuredBaselines.withLock { $0[baselineCase] = measurement }
        return measurement
    }

    /// A runner of the C baseline program, for scenarios that run it their own way (strace).
    func cBaselineRunner(roundTrips: Int) -> CBaselineRunner {
        CBaselineRunner(executablePath: cBaselinePath, progress: progress, roundTrips: roundTrips)
    }

    /// A measurement several scenarios report on (the stream run feeds `stream` and
    /// `write-latency`): measured by `measure` on first use, then shared for the rest of the run.
    /// A shared measurement keeps the C baselines it is divided by (measured in `measure`), so
    /// that a later scenario does not divide it by a C figure of its own time.
    func shared<Value: Sendable>(_ key: String, measure: () throws -> Value) throws -> Value {
        if let measured = sharedMeasurements.withLock({ $0[key] }) as? Value { return measured }
        let value = try measure()
        sharedMeasurements.withLock { $0[key] = value }
        return value
    }

    /// The C ping-pong or stream baseline at `size` in `placement`, with this run's tuning.
    func baseline(_ mode: CBaselineCase.Mode, size: Int, placement: Placement) throws -> CBaselineMeasurement {
        try baseline(tuning.baselineCase(mode, size: size, placement: placement))
    }
}
