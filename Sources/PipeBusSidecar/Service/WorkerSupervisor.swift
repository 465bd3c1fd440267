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
    private let onExit: @Sendable (Exit) -> Void

    init(command: [String], environment: [String: String], logger: Logger, onExit: @escaping @Sendable (Exit) -> Void) {
        self.command = command
        self.environment = environment
        self.logger = logger
        self.onExit = onExit
    }

    var pid: pid_t { state.withLock { $0.pid } }
    var exit: Exit? { state.withLock { $0.exit } }
    /// Running: started, not exited, and not stopped by a signal (a stopped worker does no work).
    var isAlive: Bool { state.withLock { $0.pid > 0 && $0.exit == nil && !$0.stopped } }
    var isStopped: Bool { state.withLock { $0.stopped } }
    private var hasNotExited: Bool { state.withLock { $0.pid > 0 && $0.exit == nil } }

    /// Starts the worker; throws when it cannot be started (e.g. no such command).
    func start() throws {
        guard let executable = command.first else {
            throw RPCError(code: .invalidArgument, message: "no worker command given")
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        posix_spawnattr_setpgroup(&attributes, 0)
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGPIPE, SIGTERM, SIGINT, SIGHUP] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)

        let arguments = command.map { strdup($0) } + [nil]
        let variables = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in arguments { free(pointer) }
            for pointer in variables { free(pointer) }
        }
        var pid: pid_t = 0
        let result = posix_spawnp(&pid, executable, nil, &attributes, arguments, variables)
        guard result == 0 else {
            throw RPCError(code: .failedPrecondition, message: "cannot start worker \(executable): \(String(cString: strerror(result)))")
        }
        logger.info("worker started", metadata: ["worker_pid": "\(pid)", "command": "\(command.joined(separator: " "))"])
        let child = pid
        let thread = OSThread(name: "pipebus-waitpid") { [self] in waitForExit(child) }
        state.withLock { state in
            state.pid = pid
            state.waiter = thread
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
        logger.warning("worker exited", metadata: ["worker_pid": "\(pid)", "exit": "\(exit)"])
        onExit(exit)
    }

    /// Sends `signal` to the worker's process group.
    func send(_ signal: Int32) {
        let pid = state.withLock { $0.exit == nil ? $0.pid : 0 }
        guard pid > 0 else { return }
        if kill(-pid, signal) != 0 { _ = kill(pid, signal) }
    }

    /// SIGTERM, then SIGKILL if it has not exited within `grace`; waits for the exit.
    func stop(grace: Duration) {
        send(SIGTERM)
        // A stopped worker handles SIGTERM only once continued.
        send(SIGCONT)
        let giveUp = ContinuousClock.now + grace
        while hasNotExited && ContinuousClock.now < giveUp { usleep(10_000) }
        if hasNotExited {
            logger.warning("worker did not exit after SIGTERM; sending SIGKILL", metadata: ["worker_pid": "\(pid)"])
            send(SIGKILL)
        }
        state.withLock { $0.waiter }?.join()
    }
}
