import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// What a finished `pipebus` run printed and how it ended.
struct CommandResult: CustomStringConvertible {
    var status: Int32
    var stdout: String
    var stderr: String
    var elapsed: Duration

    var description: String { "exit \(status) after \(elapsed)\n--- stdout\n\(stdout)\n--- stderr\n\(stderr)" }

    /// Standard output parsed as JSON.
    var json: Any? { try? JSONSerialization.jsonObject(with: Data(stdout.utf8), options: [.fragmentsAllowed]) }
}

/// Runs the built `pipebus` executable as separate processes.
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

    /// Runs `pipebus arguments…` to completion (killed after `timeout`).
    static func run(
        _ arguments: [String],
        stdin: String? = nil,
        timeout: Duration = .seconds(60)
    ) async throws -> CommandResult {
        let process = try Spawned(arguments, stdin: stdin)
        let start = ContinuousClock.now
        guard let status = await process.wait(timeout: timeout) else {
            process.signal(SIGKILL)
            _ = await process.wait(timeout: .seconds(5))
            throw TestFailure(
                "pipebus \(arguments.joined(separator: " ")) did not finish within \(timeout)\n\(process.output())"
            )
        }
        let elapsed = start.duration(to: .now)
        let (stdout, stderr) = process.output()
        process.removeFiles()
        return CommandResult(status: status, stdout: stdout, stderr: stderr, elapsed: elapsed)
    }
}

/// A `pipebus` process whose output goes to files (no pipe to fill up and stall it).
final class Spawned: Sendable {
    let process: Process
    let arguments: [String]
    private let stdoutPath: String
    private let stderrPath: String
    private let exit = Mutex<Int32?>(nil)

    init(_ arguments: [String], stdin: String? = nil, executable: String = CLI.executable) throws {
        let base = NSTemporaryDirectory() + "pipebus-cli-test-\(UUID().uuidString)"
        stdoutPath = base + ".out"
        stderrPath = base + ".err"
        _ = FileManager.default.createFile(atPath: stdoutPath, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
        self.arguments = arguments
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["PIPEBUS_ROOT"] = nil
        environment["PIPEBUS_WORKER"] = nil
        process.environment = environment
        process.standardOutput = FileHandle(forWritingAtPath: stdoutPath)
        process.standardError = FileHandle(forWritingAtPath: stderrPath)
        if let stdin {
            let path = base + ".in"
            _ = FileManager.default.createFile(atPath: path, contents: Data(stdin.utf8))
            process.standardInput = FileHandle(forReadingAtPath: path)
        } else {
            process.standardInput = FileHandle(forReadingAtPath: "/dev/null")
        }
        try process.run()
        self.process = process
    }

    var pid: pid_t { process.processIdentifier }

    func signal(_ signal: Int32) {
        if exit.withLock({ $0 == nil }) && process.isRunning { kill(process.processIdentifier, signal) }
    }

    /// The exit status (128 + signal when killed), or nil if still running after `timeout`.
    func wait(timeout: Duration) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            if ContinuousClock.now >= deadline { return nil }
            try? await Task.sleep(for: .milliseconds(10))
        }
        let status =
            process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
        exit.withLock { $0 = status }
        return status
    }

    func output() -> (stdout: String, stderr: String) {
        let read = { (path: String) in
            String(decoding: FileManager.default.contents(atPath: path) ?? Data(), as: UTF8.self)
        }
        return (read(stdoutPath), read(stderrPath))
    }

    /// Lines printed so far on standard output.
    var stdoutLines: [String] { output().stdout.split(separator: "\n").map(String.init) }

    func removeFiles() {
        for path in [stdoutPath, stderrPath, stdoutPath.replacingOccurrences(of: ".out", with: ".in")] {
            try? FileManager.default.removeItem(atPath: path)
        }
    }

    /// SIGTERM, then SIGKILL if it has not exited after `grace`; the exit status.
    @discardableResult
    func stop(grace: Duration = .seconds(20)) async -> Int32? {
        signal(SIGTERM)
        if let status = await wait(timeout: grace) { return status }
        signal(SIGKILL)
        return await wait(timeout: .seconds(5))
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Polls `condition` until it holds or `timeout` passes (then throws, with `what`).
func eventually(
    _ what: @autoclosure () -> String,
    timeout: Duration = .seconds(20),
    every interval: Duration = .milliseconds(50),
    _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while true {
        if try await condition() { return }
        if ContinuousClock.now >= deadline { throw TestFailure("timed out after \(timeout) waiting for \(what())") }
        try await Task.sleep(for: interval)
    }
}
