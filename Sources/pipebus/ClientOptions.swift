import ArgumentParser
import Foundation
import PipeBusCore

/// `--root` and `--json`, which every client command takes.
struct ClientOptions: ParsableArguments {
    @Option(help: "The shared root directory (default: $PIPEBUS_ROOT or /shared).")
    var root: String?

    @Flag(help: "Print JSON, for scripts.")
    var json = false

    /// The root in effect.
    var resolvedRoot: String {
        Self.resolveRoot(root)
    }

    static func resolveRoot(_ root: String?) -> String {
        if let root, !root.isEmpty { return root }
        if let root = ProcessInfo.processInfo.environment["PIPEBUS_ROOT"], !root.isEmpty { return root }
        return "/shared"
    }

    var deployment: Deployment { Deployment(root: resolvedRoot) }
}

/// A worker's name as given on the command line: what the sidecar accepts as a name, so that a
/// typo with a `/` or `..` is a usage error rather than a path.
struct WorkerName: ExpressibleByArgument, CustomStringConvertible, Hashable {
    var name: String

    init?(argument: String) {
        guard NameRule.component.accepts(argument) else { return nil }
        name = argument
    }

    var description: String { name }
    static var defaultCompletionKind: CompletionKind { .default }
}

/// Parses a `--older-than`/`--since` value (see `DurationText`): a unit is required.
func durationOption(_ text: String) throws -> Duration {
    try DurationText.parse(text)
}

/// Parses a duration flag that took plain seconds before it took units (`--interval 0.5`,
/// `--duration 10s`): the same parser, a bare number being seconds.
func secondsOrDurationOption(_ text: String) throws -> Duration {
    try DurationText.parse(text, bareNumber: .seconds)
}
