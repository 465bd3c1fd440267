import ArgumentParser
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// `pipebus demo`: the whole system on one machine, for a short while.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run three workers (marie, anga, fabien) with sidecars, submit tasks, and walk the on-call runbook.",
        discussion: """
            Starts `pipebus sidecar --mode pipe -- pipebus worker` for each worker in a temporary root \
            (or --root), submits tasks (varied durations, a few failing, one stuck on marie), shows \
            the status board live, checks health, prints each /metrics URL, clears the stuck task, \
            writes an incident report, then stops every sidecar with SIGTERM and checks that no \
            process and no FIFO is left. Exits 0 when all of that went well.
            """
    )

    @Option(
        help: ArgumentHelp("How long to run the workers, e.g. 20s, 2m (a bare number is seconds).", valueName: "duration"),
        transform: secondsOrDurationOption
    )
    var duration: Duration = .seconds(20)

    @Option(help: "The root directory (default: a new temporary directory, kept for the logs and the report).")
    var root: String?

    func validate() throws {
        guard duration >= .seconds(2), duration <= .seconds(3600) else {
            throw ValidationError("--duration must be between 2s and 1h, got \(DurationText.format(duration))")
        }
    }

    func run() async throws {
        let root = try root ?? Self.temporaryRoot()
        let demo = DemoRun(root: root, duration: duration)
        guard try await demo.run() else {
            throw CLIError("the demo did not go as planned (see above; logs in \(root)/logs)")
        }
        Console.out("\ndemo finished; everything is in \(root)")
    }

    static func temporaryRoot() throws -> String {
        var template = Array("\(NSTemporaryDirectory().trimmingSuffix("/"))/pipebus-demo-XXXXXX".utf8CString)
        guard let path = mkdtemp(&template) else { throw CLIError("cannot create a temporary directory") }
        return String(cString: path)
    }
}

extension String {
    fileprivate func trimmingSuffix(_ suffix: String) -> String {
        hasSuffix(suffix) ? String(dropLast(suffix.count)) : self
    }
}
