import ArgumentParser

/// The benchmark harness: measures pipebus between two pinned processes over real FIFOs and
/// reports every figure as a ratio to a raw-C baseline measured in the same run (bench/README.md).
@main
struct PipeBusBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pipebus-bench",
        abstract: "Benchmark pipebus against a raw-C FIFO baseline, pinned to one and to two vCPUs.",
        usage: "pipebus-bench [<scenario> ...] [--json <file>] [--svg <dir>] [--round-trips <n>]",
        discussion: "Scenarios (all when none is named):\n" + ScenarioRegistry.helpText,
        subcommands: [RunCommand.self, PeerCommand.self],
        defaultSubcommand: RunCommand.self
    )

    /// ArgumentParser's `main`, except that a peer process pins itself here, on the main thread,
    /// before any concurrency thread exists: threads inherit the affinity of the thread that
    /// starts them, so everything the peer starts later stays on its CPUs.
    @MainActor
    static func main() async {
        do {
            var command = try parseAsRoot()
            if let peer = command as? PeerCommand {
                try peer.pinBeforeThreadsStart()
            }
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}
