import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Helpers of the integration tests, which run the real `pipebus` executable as separate
/// processes. Namespaced so that their names cannot clash with other suites of this target.
enum Integration {
    /// A test-side failure with a message (a deadline passed, a tool failed).
    struct Failure: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    /// How a child process ended.
    struct Exit: Hashable, Sendable, CustomStringConvertible {
        var code: Int32?
        var signal: Int32?
        var description: String { signal.map { "killed by signal \($0)" } ?? "exited with status \(code ?? -1)" }

        init(waitStatus status: Int32) {
            // WIFEXITED / WIFSIGNALED spelled out: the macros are not imported.
            let termination = status & 0x7F
            if termination == 0 {
                code = (status >> 8) & 0xFF
                signal = nil
            } else {
                code = nil
                signal = termination
            }
        }
    }

    /// The `pipebus` executable: `$PIPEBUS_EXECUTABLE` (e.g. a release build), else beside the test
    /// bundle (`.build/<config>/`), else `.build/debug/`.
    static let executable: String = {
        if let chosen = ProcessInfo.processInfo.environment["PIPEBUS_EXECUTABLE"], !chosen.isEmpty { return chosen }
        let bundleDirectory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path
        let candidates = [
            "\(bundleDirectory)/pipebus",
            // macOS: .build/debug/pipebusPackageTests.xctest/Contents/MacOS/<bundle>
            URL(fileURLWithPath: bundleDirectory).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("pipebus").path,
            FileManager.default.currentDirectoryPath + "/.build/debug/pipebus",
        ]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? candidates[0]
    }()

    /// A child process started with `posix_spawnp`, its stdout and stderr appended to a file.
    /// Reaped by `waitpid` on the pid alone, so nothing else in the test process can steal it.
    final class Spawned: Sendable {
        let pid: pid_t
        let arguments: [String]
        let outputPath: String
        private let exitState = Mutex<Exit?>(nil)

        init(_ arguments: [String], output: String, environment: [String: String]? = nil) throws {
            self.arguments = arguments
            self.outputPath = output
            var actions = posix_spawn_file_actions_t()
            posix_spawn_file_actions_init(&actions)
            defer { posix_spawn_file_actions_destroy(&actions) }
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_APPEND, 0o644)
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
            var attributes = posix_spawnattr_t()
            posix_spawnattr_init(&attributes)
            defer { posix_spawnattr_destroy(&attributes) }
            // The test runner may block or ignore signals; the child starts with the defaults.
            var none = sigset_t()
            sigemptyset(&none)
            posix_spawnattr_setsigmask(&attributes, &none)
            var defaults = sigset_t()
            sigemptyset(&defaults)
            for number in [SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGCHLD] { sigaddset(&defaults, number) }
            posix_spawnattr_setsigdefault(&attributes, &defaults)
            posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

            let environment = environment ?? ProcessInfo.processInfo.environment
            let argv = arguments.map { strdup($0) } + [nil]
            let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
            defer {
                for pointer in argv { free(pointer) }
                for pointer in envp { free(pointer) }
            }
            var pid: pid_t = 0
            let result = posix_spawnp(&pid, arguments[0], &actions, &attributes, argv, envp)
            guard result == 0 else {
                throw Failure("cannot start \(arguments[0]): \(String(cString: strerror(result)))")
            }
            self.pid = pid
        }

        /// The exit, if the process has ended (reaps it).
        func poll() -> Exit? {
            exitState.withLock { exit in
                if let exit { return exit }
                var status: Int32 = 0
                let result = waitpid(pid, &status, WNOHANG)
                if result == pid { exit = Exit(waitStatus: status) }
                return exit
            }
        }

        var isRunning: Bool { poll() == nil }

        /// Waits for the exit at most `timeout`; nil if it is still running then.
        func wait(timeout: Duration) async -> Exit? {
            let deadline = ContinuousClock.now + timeout
            while true {
                if let exit = poll() { return exit }
                if ContinuousClock.now >= deadline { return nil }
                try? await Task.sleep(for: .milliseconds(5))
            }
        }

        func signal(_ number: Int32) {
            if poll() == nil { _ = kill(pid, number) }
        }

        /// SIGKILL and reap (bounded: a SIGKILLed process goes within milliseconds).
        @discardableResult
        func killAndReap() async -> Exit? {
            signal(SIGKILL)
            return await wait(timeout: .seconds(10))
        }

        var output: String {
            (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        }
    }

    /// Runs a tool to completion (at most `timeout`), returning its exit and combined output.
    static func run(
        _ arguments: [String],
        environment: [String: String]? = nil,
        timeout: Duration = .seconds(30)
    ) async throws -> (exit: Exit, output: String) {
        let output = "/tmp/pipebus-it-run-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { unlink(output) }
        let process = try Spawned(arguments, output: output, environment: environment)
        guard let exit = await process.wait(timeout: timeout) else {
            await process.killAndReap()
            throw Failure("\(arguments.joined(separator: " ")) did not finish within \(timeout): \(process.output)")
        }
        return (exit, process.output)
    }

    /// Polls `condition` until it holds, at most `timeout`; throws a failure naming `what`.
    static func eventually(
        _ what: @autoclosure () -> String,
        timeout: Duration = .seconds(10),
        every interval: Duration = .milliseconds(20),
        _ condition: () async throws -> Bool
    ) async throws {
        _ = try await value(what(), timeout: timeout, every: interval) { try await condition() ? true : nil }
    }

    /// Polls `body` until it returns a value, at most `timeout`; the last error is reported.
    static func value<T>(
        _ what: @autoclosure () -> String,
        timeout: Duration = .seconds(10),
        every interval: Duration = .milliseconds(20),
        _ body: () async throws -> T?
    ) async throws -> T {
        let deadline = ContinuousClock.now + timeout
        var lastError: (any Error)?
        while true {
            do {
                if let value = try await body() { return value }
            } catch {
                lastError = error
            }
            if ContinuousClock.now >= deadline {
                throw Failure("timed out after \(timeout) waiting for \(what())\(lastError.map { "; last error: \($0)" } ?? "")")
            }
            try await Task.sleep(for: interval)
        }
    }
}
