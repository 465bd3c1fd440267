import Foundation
import PipeBusTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// What a finished `pipebus` run printed and how it ended.
struct CommandResult: CustomStringConvertible {
    /// The exit code, or 128 + the signal that ended it (as a shell says).
    var status: Int32
    var stdout: String
    var stderr: String
    var elapsed: Duration

    var description: String { "exit \(status) after \(elapsed)\n--- stdout\n\(stdout)\n--- stderr\n\(stderr)" }

    /// What a `ChildProcess.run` of `pipebus` gave.
    init(_ finished: ChildProcess.Finished) {
        status = finished.exit.shellStatus
        stdout = finished.stdout
        stderr = finished.stderr
        elapsed = finished.elapsed
    }

    /// Standard output parsed as JSON.
    var json: Any? { try? JSONSerialization.jsonObject(with: Data(stdout.utf8), options: [.fragmentsAllowed]) }
}

/// Runs the built `pipebus` executable as separate processes (`ChildProcess`).
enum CLI {
    /// `pipebus` beside the test bundle (`.build/<config>/`), else `.build/debug/pipebus`.
    static let executable: String = {
        if let path = ProcessInfo.processInfo.environment["PIPEBUS_EXECUTABLE"] { return path }
        let bundleDirectory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for candidate in [bundleDirectory, bundleDirectory.deletingLastPathComponent()] {
            let path = candidate.appendingPathComponent("pipebus").path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return FileManager.default.currentDirectoryPath + "/.build/debug/pipebus"
    }()

    /// The test process's environment without the variables that would choose a root or a
    /// worker for the command (the tests say them on the command line).
    static var environment: [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment["PIPEBUS_ROOT"] = nil
        environment["PIPEBUS_WORKER"] = nil
        return environment
    }

    /// Starts `pipebus arguments…`, its output captured.
    static func start(_ arguments: [String], stdin: String? = nil) throws -> ChildProcess {
        try ChildProcess([executable] + arguments, environment: environment, stdin: stdin.map { .text($0) } ?? .null)
    }

    /// Runs `pipebus arguments…` to completion (killed after `timeout`).
    static func run(
        _ arguments: [String],
        stdin: String? = nil,
        timeout: Duration = .seconds(60)
    ) async throws -> CommandResult {
        CommandResult(
            try await ChildProcess.run(
                [executable] + arguments,
                environment: environment,
                stdin: stdin.map { .text($0) } ?? .null,
                timeout: timeout
            )
        )
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
