import PipeBusCore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A running `pipebus-test-peer`: its stdout lines as they come, its exit status once it ends.
/// Both are awaited, never polled; a thread per child reads its stdout and another reaps it.
final class PeerProcess: Sendable {
    /// How a child ended.
    enum Exit: Hashable, Sendable, CustomStringConvertible {
        case code(Int32)
        case signal(Int32)

        var description: String {
            switch self {
            case .code(let code): "exit code \(code)"
            case .signal(let signal): "signal \(signal)"
            }
        }
    }

    private struct Output {
        var lines: [String] = []
        var partial: [UInt8] = []
        var closed = false
        var waiters: [(matches: @Sendable (String) -> Bool, event: TestEvent<String?>)] = []
    }

    let pid: pid_t
    let arguments: [String]
    /// Where the child's stderr (its logs) went.
    let stderrPath: String
    private let output = Mutex(Output())
    private let exit = TestEvent<Exit>()
    private let threads = Mutex<[OSThread]>([])

    /// The peer executable: built next to the test bundle (`.build/<config>/`).
    static var executablePath: String {
        get throws {
            var candidates: [String] = []
            let argument0 = CommandLine.arguments.first ?? ""
            var directory = argument0
            // The bundle may be `X.xctest` (a file on Linux) or a directory containing the binary.
            while !directory.isEmpty {
                directory = String(directory[..<(directory.lastIndex(of: "/") ?? directory.startIndex)])
                candidates.append(directory + "/pipebus-test-peer")
                if !directory.contains(".xctest") { break }
            }
            candidates.append(".build/debug/pipebus-test-peer")
            for candidate in candidates where access(candidate, X_OK) == 0 { return candidate }
            throw RPCError(code: .notFound, message: "pipebus-test-peer not found; looked at \(candidates)")
        }
    }

    /// Starts `pipebus-test-peer <arguments>`; stderr goes to `stderrPath`.
    init(_ arguments: [String], stderrPath: String) throws {
        let executable = try Self.executablePath
        self.arguments = arguments
        self.stderrPath = stderrPath
        var stdoutPipe: [Int32] = [-1, -1]
        guard pipe(&stdoutPipe) == 0 else { throw RPCError(code: .internal, message: "pipe failed: errno \(errno)") }
        _ = fcntl(stdoutPipe[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(stdoutPipe[1], F_SETFD, FD_CLOEXEC)

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, stdoutPipe[1], 1)
        posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        // Everything else the child might inherit is O_CLOEXEC (pipebus opens every FIFO so;
        // the test helpers do too): a leaked FIFO end would delay the end of stream a test waits for.

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGTERM)
        sigaddset(&defaults, SIGINT)
        sigaddset(&defaults, SIGPIPE)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &actions, &attributes, argv, environ)
        close(stdoutPipe[1])
        guard result == 0 else {
            close(stdoutPipe[0])
            throw RPCError(
                code: .internal,
                message: "posix_spawn \(executable) failed: \(String(cString: strerror(result)))"
            )
        }
        self.pid = pid
        let readFD = stdoutPipe[0]
        let reader = OSThread(name: "test-peer-out") { [self] in readOutput(readFD) }
        let reaper = OSThread(name: "test-peer-wait") { [self] in reap() }
        threads.withLock { $0 = [reader, reaper] }
    }

    /// Starts a peer with `--dir` set, logging to a file in `directory`.
    static func start(
        _ subcommand: String,
        in directory: TemporaryDirectory,
        _ arguments: [String] = []
    ) throws -> PeerProcess {
        let name = "\(subcommand)-\(UInt32.random(in: 0...UInt32.max)).stderr"
        return try PeerProcess(
            [subcommand, "--dir", directory.pipes.path] + arguments,
            stderrPath: directory.file(name)
        )
    }

    func signal(_ signal: Int32) {
        if !exit.isFulfilled { kill(pid, signal) }
    }

    /// Kills the child if it is still running, and waits for the threads that read its output
    /// and reap it (they end with it). For `defer`.
    func stop() {
        signal(SIGKILL)
        joinThreads()
    }

    /// Joins the reader and the reaper, once: a second `pthread_join` of a thread is undefined.
    private func joinThreads() {
        let running = threads.withLock { threads in
            defer { threads = [] }
            return threads
        }
        for thread in running { thread.join() }
    }

    /// The first line (already printed or to come) for which `matches` is true.
    func line(
        _ what: String,
        within limit: Duration = .seconds(10),
        where matches: @escaping @Sendable (String) -> Bool
    ) async throws -> String {
        let event = TestEvent<String?>()
        output.withLock { output in
            if let line = output.lines.first(where: matches) {
                event.fulfill(line)
            } else if output.closed {
                event.fulfill(nil)
            } else {
                output.waiters.append((matches, event))
            }
        }
        guard let line = try await event.wait(limit, for: "\(what) from peer \(arguments.first ?? "")") else {
            throw PeerError(
                message:
                    "peer \(arguments) ended without printing \(what); it printed \(lines); stderr: \(stderrTail())"
            )
        }
        return line
    }

    /// The first line starting with `prefix`.
    func line(startingWith prefix: String, within limit: Duration = .seconds(10)) async throws -> String {
        try await line("a line starting with \"\(prefix)\"", within: limit) { $0.hasPrefix(prefix) }
    }

    var lines: [String] { output.withLock { $0.lines } }

    /// How the child ended, waiting at most `limit`.
    func exitStatus(within limit: Duration = .seconds(10)) async throws -> Exit {
        let status = try await exit.wait(limit, for: "peer \(arguments) to exit")
        joinThreads()
        return status
    }

    /// The end of the child's stderr, for failure messages.
    func stderrTail(_ count: Int = 2000) -> String {
        guard let file = fopen(stderrPath, "r") else { return "" }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = fread(&buffer, 1, buffer.count, file)
            if count <= 0 { break }
            bytes += buffer[0..<count]
        }
        return String(decoding: bytes.suffix(count), as: UTF8.self)
    }

    private func readOutput(_ fd: Int32) {
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            let fired = output.withLock { output -> [(TestEvent<String?>, String)] in
                output.partial += buffer[0..<count]
                var fired: [(TestEvent<String?>, String)] = []
                while let newline = output.partial.firstIndex(of: 0x0A) {
                    let line = String(decoding: output.partial[..<newline], as: UTF8.self)
                    output.partial.removeSubrange(...newline)
                    output.lines.append(line)
                    output.waiters.removeAll { waiter in
                        guard waiter.matches(line) else { return false }
                        fired.append((waiter.event, line))
                        return true
                    }
                }
                return fired
            }
            for (event, line) in fired { event.fulfill(line) }
        }
        let waiting = output.withLock { output in
            output.closed = true
            defer { output.waiters.removeAll() }
            return output.waiters.map(\.event)
        }
        for event in waiting { event.fulfill(nil) }
    }

    private func reap() {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR {
                exit.fulfill(.code(-1))
                return
            }
        }
        // WIFEXITED / WTERMSIG by hand: the macros are not imported.
        let signal = status & 0x7F
        exit.fulfill(signal == 0 ? .code((status >> 8) & 0xFF) : .signal(signal))
    }
}

struct PeerError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}
