import Foundation
import PipeBusCore
import PipeBusTestSupport
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

extension Integration {
    /// `pipebus sidecar` running as a child process, its JSON log lines appended to one file
    /// across restarts.
    final class SidecarProcess: Sendable {
        let root: Root
        let instance: String
        private let startArguments: Mutex<[String]>
        let environment: [String: String]?
        let logPath: String
        private let current: Mutex<ChildProcess>

        /// Starts a sidecar for `root.worker` and waits until it answers a health check.
        init(
            root: Root,
            heartbeatInterval: Double = 0.5,
            mode: String = "spool",
            metrics: Bool = false,
            extraArguments: [String] = [],
            command: [String] = [],
            instance: String = "it",
            environment: [String: String]? = nil
        ) async throws {
            self.root = root
            self.instance = instance
            self.environment = environment
            var arguments = [
                Integration.executable, "sidecar",
                "--worker", root.worker,
                "--root", root.path,
                "--heartbeat-interval", "\(heartbeatInterval)",
                "--mode", mode,
                "--metrics-address", metrics ? "127.0.0.1:0" : "none",
                "--instance", instance,
            ]
            arguments += extraArguments
            if !command.isEmpty { arguments += ["--"] + command }
            self.startArguments = Mutex(arguments)
            self.logPath = instance == "it" ? "\(root.path)/sidecar.log" : "\(root.path)/sidecar-\(instance).log"
            guard FileManager.default.isExecutableFile(atPath: Integration.executable) else {
                throw Failure("no pipebus executable at \(Integration.executable); build it (swift build) first")
            }
            current = Mutex(try Self.spawn(arguments, log: logPath, environment: environment))
            try await waitUntilAnswering()
        }

        var process: ChildProcess { current.withLock { $0 } }
        /// The command line of the latest start.
        var arguments: [String] { startArguments.withLock { $0 } }

        /// stdout and stderr appended to `log`, across restarts.
        private static func spawn(_ arguments: [String], log: String, environment: [String: String]?) throws -> ChildProcess {
            try ChildProcess(arguments, environment: environment, stdout: .file(log, append: true), stderr: .stdout)
        }
        var pid: pid_t { process.pid }

        /// Starts the sidecar again after it exited (or was killed), with `extraArguments` added
        /// to its options (a later option wins; kept for later restarts), and waits until it answers.
        func restart(waitUntilAnswering wait: Bool = true, extraArguments: [String] = []) async throws {
            guard process.exited != nil else { throw Failure("restart: the sidecar is still running") }
            let arguments = startArguments.withLock { arguments in
                // Before the worker's command, which follows "--".
                arguments.insert(contentsOf: extraArguments, at: arguments.firstIndex(of: "--") ?? arguments.endIndex)
                return arguments
            }
            let spawned = try Self.spawn(arguments, log: logPath, environment: environment)
            current.withLock { $0 = spawned }
            if wait { try await waitUntilAnswering() }
        }

        /// Waits until a fresh connection gets an answer to Health.Check (any status).
        /// By default 30 s, and more with a big spool: the start reads every task file
        /// (`SidecarStartup`).
        func waitUntilAnswering(timeout: Duration? = nil) async throws {
            let timeout = timeout ?? max(.seconds(30), SidecarStartup.timeout(tasksDirectory: root.tasksDirectory))
            try await eventually("sidecar \(root.worker) to answer a health check; log:\n\(logTail())", timeout: timeout) {
                if let exit = process.exited { throw Failure("the sidecar exited (\(exit))") }
                guard let client = try? Client.connect(root, instance: instance) else { return false }
                defer { client.close() }
                return (try? await client.health(timeout: .seconds(2))) != nil
            }
        }

        /// The sidecar's JSON log lines so far (lines that are not JSON are skipped).
        func logLines() -> [[String: Any]] {
            guard let text = try? String(contentsOfFile: logPath, encoding: .utf8) else { return [] }
            return text.split(separator: "\n").compactMap { line in
                (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
            }
        }

        /// Log lines whose `msg` contains `message` and whose fields match `fields`.
        func logLines(containing message: String, fields: [String: String] = [:]) -> [[String: Any]] {
            logLines().filter { line in
                guard let text = line["msg"] as? String, text.contains(message) else { return false }
                return fields.allSatisfy { key, value in (line[key] as? String) == value }
            }
        }

        func logTail(_ count: Int = 30) -> String {
            let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
            return text.split(separator: "\n").suffix(count).joined(separator: "\n")
        }

        /// The port `/metrics` is served on, from the latest "serving /metrics" log line.
        func metricsPort() async throws -> Int {
            try await eventuallyValue("the \"serving /metrics\" log line") {
                guard let address = logLines(containing: "serving /metrics").last?["address"] as? String,
                    let colon = address.lastIndex(of: ":")
                else { return nil }
                return Int(address[address.index(after: colon)...])
            }
        }

        /// Sends SIGKILL to the sidecar and to the worker it supervised (its own process group).
        func killEverything() async {
            let workerPID = (root.heartbeat(instance: instance)?["worker_pid"] as? Int) ?? 0
            await process.killAndReap()
            if workerPID > 0 {
                _ = kill(-pid_t(workerPID), SIGKILL)
                _ = kill(pid_t(workerPID), SIGKILL)
            }
        }
    }

    /// The sum of a metric's samples over all its label sets (nil when it is not there).
    static func metricValue(_ name: String, in exposition: String) -> Double? {
        var total: Double?
        for line in exposition.split(separator: "\n") where !line.hasPrefix("#") {
            guard line.hasPrefix(name) else { continue }
            let rest = line.dropFirst(name.count)
            guard rest.first == "{" || rest.first == " " else { continue }
            guard let value = line.split(separator: " ").last.flatMap({ Double($0) }) else { continue }
            total = (total ?? 0) + value
        }
        return total
    }
}
