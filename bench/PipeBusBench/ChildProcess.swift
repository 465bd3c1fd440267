import Glibc

/// A process the harness started, with its stdout and stderr captured through pipes.
///
/// Collecting the output is a `poll` loop with a short timeout rather than a blocking read, so
/// the harness can update its progress line and enforce a deadline without another thread.
final class ChildProcess {
    /// What a finished child printed.
    struct Output {
        var standardOutput: [UInt8]
        var standardError: String
    }

    /// Where the child's standard input comes from.
    enum StandardInput {
        /// /dev/null: the child reads end of file at once.
        case null
        /// A pipe the harness holds open until `closeStandardInput()`: a child that waits for
        /// end of file on its stdin runs until then (how a server peer is told to stop).
        case pipe
    }

    /// For messages: the executable's file name and first argument.
    let name: String
    /// The child's process id (to signal it, or to attach a tool to it).
    let pid: pid_t
    private var outputFD: Int32
    private var errorFD: Int32
    private var inputFD: Int32 = -1
    private var reaped = false

    private static let pollInterval: Int32 = 250  // milliseconds between progress ticks

    /// Starts `executable` with `arguments`.
    init(executable: String, arguments: [String], standardInput: StandardInput = .null) throws {
        name = ([executable.split(separator: "/").last.map(String.init) ?? executable] + arguments.prefix(1))
            .joined(separator: " ")
        var pipes: [(read: Int32, write: Int32)] = []
        do {
            for _ in 0..<(standardInput == .pipe ? 3 : 2) { pipes.append(try Self.makePipe()) }
        } catch {
            for pipe in pipes {
                close(pipe.read)
                close(pipe.write)
            }
            throw error
        }
        let output = pipes[0]
        let error = pipes[1]
        let input = standardInput == .pipe ? pipes[2] : nil
        defer {
            close(output.write)
            close(error.write)
            if let input { close(input.read) }
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if let input {
            posix_spawn_file_actions_adddup2(&actions, input.read, 0)
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }
        // dup2 clears O_CLOEXEC on the child's 1 and 2; the originals close on exec.
        posix_spawn_file_actions_adddup2(&actions, output.write, 1)
        posix_spawn_file_actions_adddup2(&actions, error.write, 2)

        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer {
            for argument in argv { free(argument) }
        }
        var pid = pid_t()
        let result = posix_spawn(&pid, executable, &actions, nil, argv, environ)
        guard result == 0 else {
            close(output.read)
            close(error.read)
            if let input { close(input.write) }
            throw BenchError("cannot start \(executable)", errno: result)
        }
        self.pid = pid
        self.outputFD = output.read
        self.errorFD = error.read
        self.inputFD = input?.write ?? -1
    }

    deinit {
        closeIfOpen(&inputFD)
        if !reaped {
            kill(pid, SIGKILL)
            _ = try? waitForExit()
        }
        closeIfOpen(&outputFD)
        closeIfOpen(&errorFD)
    }

    /// Sends `signal` to the child (a server that stops on SIGTERM, a tool that reports on SIGINT).
    func send(_ signal: Int32) {
        if !reaped { kill(pid, signal) }
    }

    /// Closes the child's standard input (started with `.pipe`): it reads end of file.
    func closeStandardInput() {
        closeIfOpen(&inputFD)
    }

    /// Collects the output until the child exits, calling `onTick` with the time elapsed about
    /// four times a second. Throws when the child fails or outlives `timeout` (it is killed).
    func finish(timeout: Duration, onTick: (Duration) -> Void = { _ in }) throws -> Output {
        let clock = ContinuousClock()
        let start = clock.now
        var output: [UInt8] = []
        var errorBytes: [UInt8] = []
        while outputFD >= 0 || errorFD >= 0 {
            var fds = [outputFD, errorFD].filter { $0 >= 0 }.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            let ready = poll(&fds, nfds_t(fds.count), Self.pollInterval)
            if ready < 0 && errno != EINTR {
                throw BenchError("poll on the output of \(name)", errno: errno)
            }
            for entry in fds where entry.revents != 0 {
                if entry.fd == outputFD {
                    try drain(&outputFD, into: &output)
                } else {
                    try drain(&errorFD, into: &errorBytes)
                }
            }
            let elapsed = clock.now - start
            onTick(elapsed)
            if elapsed > timeout {
                kill(pid, SIGKILL)
                _ = try waitForExit()
                throw BenchError("\(name) did not finish within \(timeout)")
            }
        }
        let status = try waitForExit()
        let errorText = String(decoding: errorBytes, as: UTF8.self)
        guard status == 0 else {
            let detail = errorText.isEmpty ? "" : ":\n" + errorText
            throw BenchError("\(name) failed (\(Self.describe(status: status)))\(detail)")
        }
        return Output(standardOutput: output, standardError: errorText)
    }

    /// Reads what is available; closes the descriptor at end of file.
    private func drain(_ fd: inout Int32, into bytes: inout [UInt8]) throws {
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if count > 0 {
            bytes.append(contentsOf: chunk[0..<count])
        } else if count == 0 {
            closeIfOpen(&fd)
        } else if errno != EINTR && errno != EAGAIN {
            throw BenchError("reading the output of \(name)", errno: errno)
        }
    }

    private func waitForExit() throws -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            guard errno == EINTR else { throw BenchError("waitpid for \(name)", errno: errno) }
        }
        reaped = true
        return status
    }

    private func closeIfOpen(_ fd: inout Int32) {
        if fd >= 0 {
            close(fd)
            fd = -1
        }
    }

    private static func makePipe() throws -> (read: Int32, write: Int32) {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { throw BenchError("pipe", errno: errno) }
        // Close-on-exec, so that another child never holds this pipe open and delays its EOF.
        // (Glibc's overlay has no pipe2; the harness spawns from one thread, so there's no race.)
        for fd in fds where fcntl(fd, F_SETFD, FD_CLOEXEC) != 0 {
            let error = errno
            for fd in fds { close(fd) }
            throw BenchError("fcntl FD_CLOEXEC", errno: error)
        }
        return (fds[0], fds[1])
    }

    /// `waitpid`'s status in words (the WIFEXITED macros are not imported into Swift).
    private static func describe(status: Int32) -> String {
        let signal = status & 0x7F
        if signal == 0 { return "exit status \((status >> 8) & 0xFF)" }
        return "killed by signal \(signal)"
    }
}
