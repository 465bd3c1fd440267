import Foundation
import PipeBusClient
import PipeBusCore
import PipeBusTestSupport
import PipeBusTasks

#if canImport(Glibc)
import Glibc
#endif

/// A temporary root with sidecars running as separate `pipebus sidecar` processes.
final class TestDeployment: @unchecked Sendable {  // used by one test at a time
    private let directory: TemporaryDirectory
    var root: String { directory.path }
    private(set) var sidecars: [String: ChildProcess] = [:]

    init() throws {
        directory = try TemporaryDirectory(prefix: "pipebus-cli")
    }

    /// Runs `body` with a fresh deployment; stops every sidecar and removes the root afterwards.
    static func with<Result>(_ body: (TestDeployment) async throws -> Result) async throws -> Result {
        let deployment = try TestDeployment()
        do {
            let result = try await body(deployment)
            await deployment.tearDown()
            return result
        } catch {
            await deployment.tearDown()
            throw error
        }
    }

    /// The demo worker, fast: 20–100 ms per task unless the task says otherwise.
    static let demoWorker = [CLI.executable, "worker", "--min-ms", "20", "--max-ms", "100"]

    /// Starts `pipebus sidecar` for `worker` and waits until it answers.
    @discardableResult
    func startSidecar(
        _ worker: String,
        mode: String = "spool",
        command: [String] = [],
        heartbeatInterval: Double = 0.5,
        waitForLease: Bool = false,
        extraArguments: [String] = []
    ) async throws -> ChildProcess {
        var arguments = [
            "sidecar", "--worker", worker, "--root", root, "--metrics-address", "none",
            "--heartbeat-interval", "\(heartbeatInterval)", "--mode", mode,
        ] + extraArguments
        if !command.isEmpty { arguments += ["--"] + command }
        let sidecar = try CLI.start(arguments)
        sidecars[worker] = sidecar
        let client = self.client(worker)
        defer { client.close() }
        // Its start reads every task file: the wait grows with the spool (`SidecarStartup`).
        let timeout = SidecarStartup.timeout(tasksDirectory: "\(root)/tasks/\(worker)")
        try await eventually("the sidecar of \(worker) to answer\n\(sidecar.stderr)", timeout: timeout) {
            if let exit = sidecar.exited { throw TestFailure("sidecar \(worker) exited (\(exit)):\n\(sidecar.stderr)") }
            guard let status = try? await client.status(timeout: .seconds(1)) else { return false }
            return !waitForLease || status.leases > 0
        }
        return sidecar
    }

    /// A pipe-mode sidecar supervising the fast demo worker, once the worker leases tasks.
    @discardableResult
    func startPipeSidecar(_ worker: String) async throws -> ChildProcess {
        try await startSidecar(worker, mode: "pipe", command: Self.demoWorker, waitForLease: true)
    }

    /// Stops `worker`'s sidecar with SIGTERM (SIGKILL after 20 s); how it ended.
    @discardableResult
    func stopSidecar(_ worker: String) async -> ChildProcess.Exit? {
        guard let sidecar = sidecars.removeValue(forKey: worker) else { return nil }
        return await sidecar.terminate()
    }

    func client(_ worker: String) -> SidecarClient {
        SidecarClient(root: root, worker: worker, breaker: CircuitBreaker(failureThreshold: 1000))
    }

    /// `pipebus arguments… --root <root>`.
    func run(
        _ arguments: [String],
        stdin: String? = nil,
        timeout: Duration = .seconds(60)
    ) async throws -> CommandResult {
        try await CLI.run(arguments + ["--root", root], stdin: stdin, timeout: timeout)
    }

    /// What starting the CLI costs on this machine now: the slowest of a few `pipebus --version`
    /// runs. A test that bounds how long a command takes compares with this, not with a fixed
    /// figure, since a debug binary on a loaded machine takes seconds to start.
    func startupBaseline() async throws -> Duration {
        var slowest = Duration.zero
        for _ in 0..<3 {
            slowest = max(slowest, try await CLI.run(["--version"], stdin: nil, timeout: .seconds(60)).elapsed)
        }
        return slowest
    }

    /// Submits a task in-process; its id.
    @discardableResult
    func submit(_ worker: String, _ json: String, id: String? = nil) async throws -> String {
        let client = self.client(worker)
        defer { client.close() }
        return try await client.submit(json: Array(json.utf8), id: id).id
    }

    /// The task's state, polled in-process.
    func state(of id: String, worker: String) async throws -> Pipebus_Tasks_V1_TaskState? {
        let client = self.client(worker)
        defer { client.close() }
        return try? await client.task(id).state
    }

    func waitForState(
        _ state: Pipebus_Tasks_V1_TaskState,
        of id: String,
        worker: String,
        timeout: Duration = .seconds(20)
    ) async throws {
        try await eventually("task \(id) to be \(state)", timeout: timeout) {
            try await self.state(of: id, worker: worker) == state
        }
    }

    func tearDown() async {
        for worker in Array(sidecars.keys) { await stopSidecar(worker) }
        directory.remove()
    }
}

/// Every FIFO below `directory`.
func fifos(under directory: String) -> [String] {
    guard let enumerator = FileManager.default.enumerator(atPath: directory) else { return [] }
    var found: [String] = []
    while let relative = enumerator.nextObject() as? String {
        var info = stat()
        if lstat("\(directory)/\(relative)", &info) == 0, info.st_mode & S_IFMT == S_IFIFO { found.append(relative) }
    }
    return found
}

/// Processes whose command line mentions `text` (e.g. a test's root).
func processes(mentioning text: String) -> [String] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    var found: [String] = []
    for entry in entries where Int32(entry) != nil && Int32(entry) != getpid() {
        guard let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline"), !data.isEmpty else { continue }
        let commandLine = String(decoding: data.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self)
        if commandLine.contains(text) { found.append("\(entry): \(commandLine)") }
    }
    return found
}
