import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A real child process for a test: started with `posix_spawnp` from its arguments and
/// environment, its stdout and stderr captured (or sent to a file, or nowhere), its lines
/// awaited, and its end awaited with a bound.
///
/// Always reaped: a thread of its own waits for the child from the start and reaps it as soon as
/// it ends, whether or not the test asks, so no test leaves a zombie and nothing else in the test
/// process can take its exit status. A signal is never sent once the child is reaped, so it can
/// never reach a process that reused the pid.
///
/// The child starts with no signal blocked and the default action for every signal (a child
/// started from a thread of the concurrency pool would otherwise inherit its blocked mask, and
/// ignore SIGTERM), with stdin on /dev/null unless given, and with no descriptor of the test
/// process but its stdio (a leaked FIFO end or socket would change what the test observes).
public final class ChildProcess: Sendable, CustomStringConvertible {
    /// What the child reads on its stdin.
    public enum Input: Sendable {
        /// /dev/null.
        case null
        /// This text, then end of file.
        case text(String)
        /// A descriptor of the caller's (duplicated; the caller keeps and closes its own).
        case descriptor(Int32)
    }

    /// Where one of the child's output streams goes.
    public enum Output: Sendable {
        /// Read by the test process as it comes: `stdout`, `stdoutLines`, `line(...)`.
        case capture
        /// /dev/null.
        case null
        /// A file, created if needed (0644), truncated or appended to.
        case file(String, append: Bool)
        /// A descriptor of the caller's (duplicated; the caller keeps and closes its own).
        case descriptor(Int32)
        /// For stderr only: wherever stdout goes, interleaved as written (`2>&1`).
        case stdout
    }

    /// One of the two output streams.
    public enum Stream: String, Sendable {
        case stdout
        case stderr
    }

    /// The child's process id.
    public let pid: Int32
    /// The command line it was started with, program first.
    public let arguments: [String]
    /// Whether it leads a process group of its own (`signalGroup` reaches its descendants).
    public let hasOwnProcessGroup: Bool

    let stdoutDestination: Output
    let stderrDestination: Output
    let state: Mutex<State>
    let exitEvent = TestEvent<Exit>()

    /// Starts `arguments[0]` (looked up on PATH when it has no slash) with `arguments`.
    ///
    /// - Parameters:
    ///   - environment: the child's whole environment; nil inherits the test process's.
    ///   - newProcessGroup: makes the child the leader of a new process group, so that
    ///     `signalGroup` reaches whatever it starts (a shell's background jobs).
    public init(
        _ arguments: [String],
        environment: [String: String]? = nil,
        stdin: Input = .null,
        stdout: Output = .capture,
        stderr: Output = .capture,
        newProcessGroup: Bool = false
    ) throws {
        precondition(!arguments.isEmpty, "a child process needs a program to run")
        if case .stdout = stdout { preconditionFailure(".stdout is a destination for stderr only") }
        self.arguments = arguments
        self.hasOwnProcessGroup = newProcessGroup
        self.stdoutDestination = stdout
        self.stderrDestination = stderr
        let spawned = try Spawn.start(
            arguments,
            environment: environment,
            stdin: stdin,
            stdout: stdout,
            stderr: stderr,
            newProcessGroup: newProcessGroup
        )
        pid = spawned.pid
        var initial = State()
        initial.stdout.fd = spawned.stdoutReadEnd
        initial.stderr.fd = spawned.stderrReadEnd
        state = Mutex(initial)
        if spawned.stdoutReadEnd >= 0 || spawned.stderrReadEnd >= 0 {
            let reader = Thread { [self] in readCapturedOutput() }
            reader.name = "child-\(pid)-output"
            reader.start()
        }
        let reaper = Thread { [self] in reap() }
        reaper.name = "child-\(pid)-reaper"
        reaper.start()
    }

    // MARK: The end

    /// How the child ended, once it has ended and been reaped; nil while it runs.
    public var exited: Exit? { exitEvent.value }

    public var isRunning: Bool { exited == nil }

    /// How the child ended, waiting at most `timeout`; nil if it is still running then (or the
    /// waiting task is cancelled).
    public func wait(timeout: Duration) async -> Exit? {
        try? await exitEvent.wait(timeout, for: "\(name) to exit")
    }

    /// How the child ended, waiting at most `limit`; throws `TimeoutError` if it still runs.
    public func exitStatus(within limit: Duration = .seconds(10)) async throws -> Exit {
        try await exitEvent.wait(limit, for: "\(name) to exit")
    }

    /// `wait(timeout:)` for code that cannot suspend (a `defer`, a synchronous test).
    public func waitBlocking(timeout: Duration) -> Exit? {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let exit = exited { return exit }
            if ContinuousClock.now >= deadline { return nil }
            usleep(1_000)
        }
    }

    /// Sends `number` to the child, unless it has already been reaped.
    public func signal(_ number: Int32) {
        state.withLock { state in
            if !state.reaped { _ = kill(pid, number) }
        }
    }

    /// Sends `number` to the child's whole process group (it must have been started with
    /// `newProcessGroup`): its descendants too, even after the child itself has ended.
    public func signalGroup(_ number: Int32) {
        precondition(hasOwnProcessGroup, "\(name) was not started in a process group of its own")
        _ = kill(-pid, number)
    }

    /// SIGKILL, then waits for the reaper (10 s at most: a killed process goes within
    /// milliseconds); how it ended.
    @discardableResult
    public func killAndReap() async -> Exit? {
        hasOwnProcessGroup ? signalGroup(SIGKILL) : signal(SIGKILL)
        return await wait(timeout: .seconds(10))
    }

    /// SIGTERM, then SIGKILL if it has not exited after `grace`; how it ended.
    @discardableResult
    public func terminate(grace: Duration = .seconds(20)) async -> Exit? {
        signal(SIGTERM)
        if let exit = await wait(timeout: grace) { return exit }
        return await killAndReap()
    }

    /// SIGKILL and a bounded wait for the reaper, for a `defer`: nothing the test started
    /// outlives it.
    public func stop() {
        hasOwnProcessGroup ? signalGroup(SIGKILL) : signal(SIGKILL)
        _ = waitBlocking(timeout: .seconds(10))
    }

    // MARK: Running to completion

    /// What a child run to completion printed, and how it ended.
    public struct Finished: Sendable, CustomStringConvertible {
        public var exit: Exit
        public var stdout: String
        public var stderr: String
        /// From the start to the reaped end, on the continuous clock.
        public var elapsed: Duration

        public var description: String { "\(exit) after \(elapsed)\n--- stdout\n\(stdout)\n--- stderr\n\(stderr)" }
    }

    /// Runs `arguments` to completion, capturing its output; kills it and throws if it has not
    /// finished after `timeout` (a failure bound, not a performance figure).
    public static func run(
        _ arguments: [String],
        environment: [String: String]? = nil,
        stdin: Input = .null,
        mergingStderr: Bool = false,
        timeout: Duration = .seconds(60)
    ) async throws -> Finished {
        let start = ContinuousClock.now
        let child = try ChildProcess(
            arguments,
            environment: environment,
            stdin: stdin,
            stdout: .capture,
            stderr: mergingStderr ? .stdout : .capture
        )
        guard let exit = await child.wait(timeout: timeout) else {
            await child.killAndReap()
            throw TestSupportError("\(child.name) did not finish within \(timeout)\n\(child)")
        }
        return Finished(exit: exit, stdout: child.stdout, stderr: child.stderr, elapsed: start.duration(to: .now))
    }

    // MARK: Output

    /// Everything the child wrote on stdout so far (the file's contents when it went to a file).
    public var stdout: String { text(.stdout) }
    /// Everything the child wrote on stderr so far (the file's contents when it went to a file).
    public var stderr: String { text(.stderr) }
    /// The complete lines of stdout so far.
    public var stdoutLines: [String] { lines(.stdout) }
    /// The complete lines of stderr so far.
    public var stderrLines: [String] { lines(.stderr) }

    /// The last `count` bytes of stderr, for a failure message.
    public func stderrTail(_ count: Int = 2000) -> String { String(stderr.suffix(count)) }

    /// The first line of `stream` (already printed or to come) for which `matches` is true,
    /// waiting at most `limit`. Throws, with what was printed, if the child ends without it.
    public func line(
        _ what: String,
        in stream: Stream = .stdout,
        within limit: Duration = .seconds(10),
        where matches: @escaping @Sendable (String) -> Bool
    ) async throws -> String {
        precondition(destination(stream).isCaptured, "\(stream) of \(name) is not captured")
        let event = TestEvent<String?>()
        state.withLock { state in
            if let line = state[stream].lines.first(where: matches) {
                event.fulfill(line)
            } else if state[stream].fd < 0 || state[stream].endOfFile || state.reaped {
                event.fulfill(nil)
            } else {
                state.waiters.append(LineWaiter(stream: stream, matches: matches, event: event))
            }
        }
        guard let line = try await event.wait(limit, for: "\(what) on the \(stream) of \(name)") else {
            throw TestSupportError("\(name) ended without printing \(what) on its \(stream)\n\(self)")
        }
        return line
    }

    /// The first line of `stream` starting with `prefix`.
    public func line(
        startingWith prefix: String,
        in stream: Stream = .stdout,
        within limit: Duration = .seconds(10)
    ) async throws -> String {
        try await line("a line starting with \"\(prefix)\"", in: stream, within: limit) { $0.hasPrefix(prefix) }
    }

    /// The program and its state, then the ends of both outputs: for failure messages.
    public var description: String {
        let status = exited.map { "\($0)" } ?? "running"
        return "\(name) (pid \(pid), \(status))\n--- stdout\n\(String(stdout.suffix(4000)))\n--- stderr\n\(String(stderr.suffix(4000)))"
    }

    /// The command line, shortened for messages.
    var name: String { String(arguments.joined(separator: " ").prefix(200)) }

    func destination(_ stream: Stream) -> Output {
        stream == .stdout ? stdoutDestination : stderrDestination
    }

    private func text(_ stream: Stream) -> String {
        switch destination(stream) {
        case .capture:
            return state.withLock { String(decoding: $0[stream].bytes, as: UTF8.self) }
        case .file(let path, _):
            return String(decoding: FileManager.default.contents(atPath: path) ?? Data(), as: UTF8.self)
        case .stdout:
            return text(.stdout)
        case .null, .descriptor:
            return ""
        }
    }

    private func lines(_ stream: Stream) -> [String] {
        switch destination(stream) {
        case .capture:
            return state.withLock { $0[stream].lines }
        case .stdout:
            return lines(.stdout)
        default:
            let text = text(stream)
            var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            lines.removeLast()  // after the last newline: an unfinished line, or nothing
            return lines
        }
    }
}

extension ChildProcess.Output {
    var isCaptured: Bool {
        if case .capture = self { return true }
        return false
    }
}
