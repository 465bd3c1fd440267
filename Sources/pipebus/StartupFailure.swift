import PipeBusCore

#if canImport(Glibc)
import Glibc
#endif

/// Why `pipebus sidecar` stopped, for the person who started it: its log lines are JSON for
/// Loki, which a person at a terminal reads badly, so a terminal also gets one plain line.
enum StartupFailure {
    /// Prints `line(…)` on standard error when it is a terminal.
    static func tell(_ what: String, _ error: any Error) {
        if let line = line(what, error, stderrIsTerminal: isatty(STDERR_FILENO) == 1) { Console.error(line) }
    }

    /// `error: <what>: <why>` when standard error is a terminal; nil when it is not (a log
    /// collector, which has the JSON line already).
    static func line(_ what: String, _ error: any Error, stderrIsTerminal: Bool) -> String? {
        guard stderrIsTerminal else { return nil }
        let why = (error as? RPCError).map { error in error.message + (error.cause.map { " (\($0))" } ?? "") } ?? "\(error)"
        return "error: \(what): \(why)"
    }
}
