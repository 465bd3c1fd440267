/// One named benchmark: `pipebus-bench NAME` runs it. Each scenario lives in a file of its own
/// and is listed in `ScenarioRegistry`.
///
/// A scenario measures between processes through `BenchContext.peers` (or the C baseline), and
/// divides by `BenchContext.baseline(_:)` for its ratios.
protocol Scenario: Sendable {
    /// The name on the command line.
    var name: String { get }
    /// One line for `--help`.
    var summary: String { get }

    func run(in context: BenchContext) async throws -> [BenchResult]
}
