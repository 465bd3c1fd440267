import Foundation
import PipeBusTestSupport
import Testing

/// Finds and runs an external program (promtool, prometheus) for the observability tests.
struct CommandLineTool {
    let url: URL

    /// The program on PATH (plus the Debian locations, in case PATH is minimal), or nil.
    static func find(_ name: String) -> CommandLineTool? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let directories = path.split(separator: ":").map(String.init) + ["/usr/bin", "/usr/local/bin"]
        for directory in directories {
            let candidate = URL(fileURLWithPath: directory).appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return CommandLineTool(url: candidate) }
        }
        return nil
    }

    /// Why a test cannot go on without the program: CI installs it (scripts/install-deps.sh).
    static func missingMessage(_ name: String) -> Comment {
        Comment(
            rawValue: "\(name) is not installed: install Debian's `prometheus` package "
                + "(scripts/install-deps.sh does); this test does not pass without it"
        )
    }

    /// Runs to completion with `input` on stdin; returns the exit status and stdout + stderr.
    /// Killed, and a failure, if it has not finished after `timeout` (a bound, not a figure).
    func run(_ arguments: [String], input: String, timeout: Duration = .seconds(60)) throws -> (status: Int32, output: String) {
        let child = try ChildProcess([url.path] + arguments, stdin: .text(input), stderr: .stdout)
        guard let exit = child.waitBlocking(timeout: timeout) else {
            child.stop()
            throw TestSupportError("\(url.lastPathComponent) did not finish within \(timeout)\n\(child)")
        }
        return (exit.shellStatus, child.stdout)
    }
}
