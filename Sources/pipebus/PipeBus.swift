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
            Exit codes: 0 success, 1 error, 2 usage error; `health` exits 0 only when SERVING. \
            With --json, an error is one line of JSON on standard error: \
            {"error": {"code": "unavailable", "message": "..."}} (code "usage" for a usage error). \
            Durations are written 500ms, 30s, 5m, 1h or 1h30m. Output cut off by its reader \
            (`pipebus watch | head -1`) ends the command as it ends `cat`: silently, by SIGPIPE.
            """,
        version: PipeBusVersion.description,
        subcommands: [
            SidecarCommand.self,
            HealthCommand.self,
            StatusCommand.self,
            DiagnoseCommand.self,
            TasksCommand.self,
            SubmitCommand.self,
            ReplayCommand.self,
            ClearStuckCommand.self,
            ConfigCommand.self,
            WatchCommand.self,
            IncidentCommand.self,
            WorkerCommand.self,
            DemoCommand.self,
            RetireCommand.self,
        ]
    )

    /// Parses and runs, mapping errors to the exit codes above (ArgumentParser's own usage
    /// code, 64, becomes 2). With `--json`, an error is one JSON line on standard error,
    /// `{"error": {"code": …, "message": …}}` (`code` is `usage` for a usage error), so that
    /// standard output holds only results.
    static func main() async {
        let arguments = CommandArguments.normalized(Array(CommandLine.arguments.dropFirst()))
        let json = CommandArguments.wantsJSON(arguments)
        do {
            var command = try await asyncParseAsRoot(arguments)
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let error as CLIError {
            report(code: error.code, message: error.message, json: json)
            Glibc.exit(1)
        } catch {
            let code = exitCode(for: error)
            let message = fullMessage(for: error)
            if code == .success {
                if !message.isEmpty { Console.out(message) }
                Glibc.exit(0)
            }
            if json {
                let short = Self.message(for: error)
                if !short.isEmpty { report(code: code == .validationFailure ? "usage" : "failed", message: short, json: true) }
            } else if !message.isEmpty {
                Console.error(message)
            }
            Glibc.exit(code == .validationFailure ? 2 : code.rawValue)
        }
    }

    /// `error: <message>`, or its JSON form.
    static func report(code: String, message: String, json: Bool) {
        if json {
            Console.error(Console.jsonText(["error": ["code": code, "message": message]], compact: true))
        } else {
            Console.error("error: \(message)")
        }
    }
}
