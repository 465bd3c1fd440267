import ArgumentParser

#if canImport(Glibc)
import Glibc
#endif

/// The `pipebus` command line: thin argument parsing over the libraries.
///
/// Exit codes, for every subcommand: 0 success, 1 an error (no sidecar, no such worker or
/// task, a refused call; for `health`, anything but SERVING), 2 a usage error (a bad flag or
/// value, e.g. a malformed duration).
@main
struct PipeBus: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pipebus",
        abstract: "A gRPC-style message bus over named pipes.",
        discussion: """
            Every client command takes --root (default: $PIPEBUS_ROOT or /shared) and --json. \
            Exit codes: 0 success, 1 error, 2 usage error; `health` exits 0 only when SERVING.
            """,
        subcommands: [
            SidecarCommand.self,
            HealthCommand.self,
            StatusCommand.self,
            TasksCommand.self,
            SubmitCommand.self,
            ReplayCommand.self,
            ClearStuckCommand.self,
            ConfigCommand.self,
            WatchCommand.self,
            IncidentCommand.self,
            WorkerCommand.self,
            DemoCommand.self,
        ]
    )

    /// Parses and runs, mapping errors to the exit codes above (ArgumentParser's own usage
    /// code, 64, becomes 2).
    static func main() async {
        do {
            var command = try await asyncParseAsRoot(nil)
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let error as CLIError {
            Console.error("error: \(error.message)")
            Glibc.exit(1)
        } catch {
            let code = exitCode(for: error)
            let message = fullMessage(for: error)
            if code == .success {
                if !message.isEmpty { Console.out(message) }
                Glibc.exit(0)
            }
            if !message.isEmpty { Console.error(message) }
            Glibc.exit(code == .validationFailure ? 2 : code.rawValue)
        }
    }
}
