internal import CPipeBusShim
#if canImport(Glibc)
import Glibc
#endif
import Logging
import PipeBusCore
import Synchronization

/// Starts the worker process, forwards signals to it, and notices when it exits.
///
/// The worker runs in its own process group, so a signal reaches the whole tree it started;
/// a named thread waits in `waitpid` for it (one thread, no polling).
final class WorkerSupervisor: Sendable {
    struct Exit: Sendable, Hashable, CustomStringConvertible {
        var code: Int32?
        var signal: Int32?
        var description: String {
            if let signal { return "killed by signal \(signal)" }
            return "exited with status \(code ?? -1)"
        }
    }

    private struct State {
        var pid: pid_t = 0
        var exit: Exit?
        /// Stopped by a signal (SIGSTOP, SIGTSTP) and not yet continued.
        var stopped = false
        var waiter: OSThread?
    }

    private let command: [String]
    private let environment: [String: String]
    private let logger: Logger
    private let state = Mutex(State())
    /// Signalled when the worker has exited, for `stop` waiting out its grace.
    private let exited = ConditionLock()
    private let onExit: @Sendable (Exit) -> Void
    /// Where the running worker is recorded for a successor (nil: not recorded).
    private let record: WorkerRecord?

    init(
        command: [String],
        environment: [String: String],
        record: WorkerRecord?,
        logger: Logger,
        onExit: @escaping @Sendable (Exit) -> Void
    ) {
        self.command = command
        self.environment = environment
        self.record = record
        self.logger = logger
        self.onExit = onExit
    }

    var pid: pid_t { state.withLock { $0.pid } }
    var exit: Exit? { state.withLock { $0.exit } }
    /// Running: started, not exited, and not stopped by a signal (a stopped worker does no work).
    var isAlive: Bool { state.withLock { $0.pid > 0 && $0.exit == nil && !$0.stopped } }
    var isStopped: Bool { state.withLock { $0.stopped } }
    private var hasNotExited: Bool { state.withLock { $0.pid > 0 && $0.exit == nil } }

    /// The signal the kernel sends the worker when the sidecar dies without stopping it
    /// (SIGKILL, OOM, a crash). SIGKILL, not SIGTERM: a worker that ignores or is slow to
    /// handle SIGTERM would otherwise run on unsupervised until someone restarts the sidecar,
    /// and a sidecar that died had no chance to drain either (its restart recovers the spool).
    /// A graceful stop is SIGTERM to the sidecar, which forwards it and waits the stop grace.
    /// It reaches the worker only, not the worker's children: the next sidecar of the instance
    /// stops what is left of the worker's process group (`WorkerRecord`).
    static let deathSignal = SIGKILL

    /// Fails with a clear error, before anything is started or created, when the worker command
    /// names no executable file (a path, or a name searched in PATH as the start does).
    func checkCommand() throws {
        guard let executable = command.first, !executable.isEmpty else {
            throw RPCError(code: .invalidArgument, message: "no worker command given")
        }
        let candidates: [String]
        if executable.contains("/") {
            candidates = [executable]
        } else {
            let path = environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
            candidates = path.split(separator: ":", omittingEmptySubsequences: false).map { "\($0.isEmpty ? "." : $0)/\(executable)" }
        }
        for candidate in candidates {
            var info = stat()
            if stat(candidate, &info) == 0, info.st_mode & S_IFMT == S_IFREG, access(candidate, X_OK) == 0 { return }
        }
        let searched = executable.contains("/") ? "" : " in PATH (\(environment["PATH"] ?? "unset"))"
        throw RPCError(code: .failedPrecondition, message: "cannot start worker \(executable): no executable file of that name\(searched)")
    }

    /// Starts the worker; throws when it cannot be started (e.g. no such command).
    ///
    /// The worker is forked by the thread that then waits for it (`pipebus-waitpid`), because
    /// PR_SET_PDEATHSIG fires when the creating THREAD ends: that thread lives until the worker
    /// has exited. The worker gets no descriptor of the sidecar but stdio (a listening socket or
    /// a FIFO it inherited would outlive the sidecar), see `pipebus_spawn_worker`.
    func start() throws {
        guard let executable = command.first else {
            throw RPCError(code: .invalidArgument, message: "no worker command given")
        }
        let arguments = Self.cStrings(command)
        let variables = Self.cStrings(environment.map { "\($0.key)=\($0.value)" })
        defer {
            Self.free(arguments)
            Self.free(variables)
        }
        // Passed to the thread as addresses: it is done with them before the hand-off below
        // returns, and they are freed only after that.
        let argv = UInt(bitPattern: arguments)
        let envp = UInt(bitPattern: variables)
        let handoff = SpawnHandoff()
        let thread = OSThread(name: "pipebus-waitpid") { [self] in
            var pid: Int32 = 0
            let error = pipebus_spawn_worker(
                executable,
                UnsafePointer(bitPattern: argv),
                UnsafePointer(bitPattern: envp),
                Self.deathSignal,
                &pid
            )
            if error == 0 {
                state.withLock { $0.pid = pid }
                if let record, let identity = ProcessIdentity.of(pid)?.identity {
                    do {
                        try record.write(identity)
                    } catch {
                        logger.warning("cannot record the worker's pid; a restarted sidecar will not find it", metadata: ["error": "\(error)"])
                    }
                }
            }
            handoff.finish(error)
            if error == 0 { waitForExit(pid) }
        }
        let error = handoff.wait()
        guard error == 0 else {
            thread.join()
            throw RPCError(code: .failedPrecondition, message: "cannot start worker \(executable): \(String(cString: strerror(error)))")
        }
        state.withLock { $0.waiter = thread }
        logger.info("worker started", metadata: ["worker_pid": "\(pid)", "command": "\(command.joined(separator: " "))"])
    }

    /// A NULL-terminated array of C strings, as exec takes them.
    private static func cStrings(_ strings: [String]) -> UnsafeMutablePointer<UnsafeMutablePointer<CChar>?> {
        let array = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: strings.count + 1)
        for (index, string) in strings.enumerated() { (array + index).initialize(to: strdup(string)) }
        (array + strings.count).initialize(to: nil)
        return array
    }

    private static func free(_ array: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) {
        var cursor = array
        while let string = cursor.pointee {
            Glibc.free(string)
            cursor += 1
        }
        array.deallocate()
    }

    /// The spawn's outcome, from the thread that spawned to `start()`.
    private final class SpawnHandoff: Sendable {
        private let lock = ConditionLock()
        private nonisolated(unsafe) var outcome: Int32?  // guarded by `lock`

        func finish(_ error: Int32) {
            lock.withLock {
                outcome = error
                lock.broadcast()
            }
        }

        func wait() -> Int32 {
            lock.withLock {
                while outcome == nil { _ = lock.wait(until: nil) }
                return outcome ?? 0
            }
        }
    }

    private func waitForExit(_ pid: pid_t) {
        var status: Int32 = 0
        while true {
            // WUNTRACED | WCONTINUED: a stopped worker is reported as not alive until continued.
            if waitpid(pid, &status, WUNTRACED | WCONTINUED) < 0 {
                if errno == EINTR { continue }
                return
            }
            // WIFSTOPPED / WIFCONTINUED / WIFEXITED / WIFSIGNALED, spelled out: the macros are not imported.
            if status & 0xFF == 0x7F {
                state.withLock { $0.stopped = true }
                logger.warning("worker stopped", metadata: ["worker_pid": "\(pid)", "signal": "\((status >> 8) & 0xFF)"])
                continue
            }
            if status == 0xFFFF {
                state.withLock { $0.stopped = false }
                logger.info("worker continued", metadata: ["worker_pid": "\(pid)"])
                continue
            }
            break
        }
        let termination = status & 0x7F
        let exit = termination == 0 ? Exit(code: (status >> 8) & 0xFF, signal: nil) : Exit(code: nil, signal: termination)
        state.withLock {
            $0.exit = exit
            $0.stopped = false
        }
        exited.withLock { exited.broadcast() }
        logger.warning("worker exited", metadata: ["worker_pid": "\(pid)", "exit": "\(exit)"])
        // Only now: until the worker has exited, a successor must find it if this sidecar dies.
        record?.remove()
        onExit(exit)
    }

    /// Sends `signal` to the worker's process group.
    func send(_ signal: Int32) {
        let pid = state.withLock { $0.exit == nil ? $0.pid : 0 }
        guard pid > 0 else { return }
        if kill(-pid, signal) != 0 { _ = kill(pid, signal) }
    }

    /// SIGTERM, then SIGKILL if it has not exited within `grace`; waits for the exit. Blocks:
    /// the sidecar calls it from its shutdown, on a thread of its own.
    func stop(grace: Duration) {
        send(SIGTERM)
        // A stopped worker handles SIGTERM only once continued.
        send(SIGCONT)
        let giveUp = ContinuousClock.now + grace
        exited.withLock {
            while hasNotExited {
                if !exited.wait(until: giveUp) { break }
            }
        }
        if hasNotExited {
            logger.warning("worker did not exit after SIGTERM; sending SIGKILL", metadata: ["worker_pid": "\(pid)"])
            send(SIGKILL)
        }
        state.withLock { $0.waiter }?.join()
    }
}
