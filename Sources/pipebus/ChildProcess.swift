import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A process the demo starts and stops: its output goes to a log file, it is reaped with
/// `waitpid`, and it can be signalled.
final class ChildProcess: Sendable {
    /// How a child ended.
    struct Exit: Sendable, Hashable, CustomStringConvertible {
        var code: Int32?
        var signal: Int32?
        var isSuccess: Bool { code == 0 }
        var description: String { signal.map { "killed by signal \($0)" } ?? "exit status \(code ?? -1)" }
    }

    let pid: pid_t
    let arguments: [String]
    let logPath: String
    private let exit = Mutex<Exit?>(nil)

    private init(pid: pid_t, arguments: [String], logPath: String) {
        self.pid = pid
        self.arguments = arguments
        self.logPath = logPath
    }

    /// The running executable (`/proc/self/exe`), to start copies of this command line.
    static var currentExecutable: String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard count > 0 else { return CommandLine.arguments[0] }
        return String(decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Starts `arguments` with standard output and error appended to `logPath`.
    static func spawn(_ arguments: [String], logPath: String) throws -> ChildProcess {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // The demo blocks no signal, but make sure the child starts with none blocked or ignored.
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attributes, &none)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGPIPE, SIGTERM, SIGINT, SIGHUP] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        let argv = arguments.map { strdup($0) } + [nil]
        let environment = ProcessInfo.processInfo.environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in environment { free(pointer) }
        }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, arguments[0], &actions, &attributes, argv, environment)
        guard result == 0 else {
            throw CLIError("cannot start \(arguments[0]): \(String(cString: strerror(result)))")
        }
        return ChildProcess(pid: pid, arguments: arguments, logPath: logPath)
    }

    func send(_ signal: Int32) {
        if exit.withLock({ $0 == nil }) { kill(pid, signal) }
    }

    /// The exit, if it has happened (reaps the child).
    func poll() -> Exit? {
        exit.withLock { exit in
            if let exit { return exit }
            var status: Int32 = 0
            let result = waitpid(pid, &status, WNOHANG)
            guard result == pid else { return nil }
            let termination = status & 0x7F
            exit = termination == 0 ? Exit(code: (status >> 8) & 0xFF) : Exit(signal: termination)
            return exit
        }
    }

    /// Waits for the exit, up to `timeout`; nil if it is still running.
    func wait(timeout: Duration) async -> Exit? {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let exit = poll() { return exit }
            if ContinuousClock.now >= deadline { return nil }
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    /// The last lines of the log, to explain a failure.
    func logTail(lines: Int = 5) -> String {
        guard let data = FileManager.default.contents(atPath: logPath) else { return "" }
        return String(decoding: data, as: UTF8.self).split(separator: "\n").suffix(lines).joined(separator: "\n")
    }
}

/// Whether a process with this id exists (zombies included).
func processExists(_ pid: pid_t) -> Bool {
    guard pid > 0 else { return false }
    return kill(pid, 0) == 0 || errno == EPERM
}
