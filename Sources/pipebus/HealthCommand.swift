import ArgumentParser
import Foundation
import PipeBusClient
import PipeBusCore
import PipeBusTasks
import PipeBusPipes
import Synchronization
import PipeBusHealth

/// `pipebus health`: grpc_health_probe for sidecars, usable as a container health check.
struct HealthCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "health",
        abstract: "Check a sidecar's health (grpc.health.v1); exit 0 only when SERVING.",
        discussion: """
            Like grpc_health_probe: prints the serving status and exits 0 when SERVING, 1 otherwise \
            (NOT_SERVING, SERVICE_UNKNOWN, or no sidecar answering within --timeout), 2 on a usage \
            error. A sidecar that is not running is reported at once. With --all, every worker \
            must be SERVING, except a worker retired with `pipebus retire` whose sidecar is gone: it is \
            reported as RETIRED and does not fail --all. A worker scaled out is SERVING when at \
            least one of its instances is (an instance retired on its own is left out); \
            --instance asks one instance. With --watch, prints each change until interrupted.
            """
    )

    @OptionGroup var options: ClientOptions

    @OptionGroup var remote: RemoteOptions

    @Option(help: "The worker whose sidecar to check.")
    var worker: WorkerName?

    @Flag(help: "Check every worker under the root.")
    var all = false

    @Option(help: "Ask this instance of the worker only (default: SERVING if any instance is).")
    var instance: String?

    @Option(help: "The service to check (\"\" is the whole sidecar), e.g. pipebus.tasks.v1.Tasks.")
    var service = ""

    @Flag(help: "Print every change of status until interrupted.")
    var watch = false

    @Option(
        help: ArgumentHelp("How long to wait for an answer, e.g. 1s, 500ms (a bare number is seconds).", valueName: "duration"),
        transform: secondsOrDurationOption
    )
    var timeout: Duration = .seconds(1)

    func validate() throws {
        guard (worker != nil) != all else { throw ValidationError("give either --worker NAME or --all") }
        if let instance {
            guard worker != nil else { throw ValidationError("--instance needs --worker") }
            if let problem = NameRule.component.problem(with: instance) { throw ValidationError("--instance \(instance): \(problem)") }
        }
        guard timeout > .zero, timeout <= .seconds(3600) else {
            throw ValidationError("--timeout must be above 0 and at most 1h, got \(DurationText.format(timeout))")
        }
    }

    func run() async throws {
        let deployment = options.deployment
        let fleet = try remote.remoteFleet(worker: worker?.name, callTimeout: timeout)
        let workers: [String]
        if let fleet {
            workers = worker.map { [$0.name] } ?? fleet.workers()
            if let name = workers.first, fleet.instances(of: name).isEmpty {
                throw CLIError("no worker named \"\(name)\" in the fleet file \(remote.fleet ?? "")", code: "not_found")
            }
        } else if let worker {
            try deployment.requireWorker(worker.name)
            workers = [worker.name]
        } else {
            workers = Fleet(root: deployment.root).workers()
            guard !workers.isEmpty else {
                throw CLIError("no sidecar has run under \(deployment.root) (no \(RootLayout(root: deployment.root).workersDirectory)/*)")
            }
        }
        let probe = HealthProbe(deployment: deployment, service: service, timeout: timeout, instance: instance, fleet: fleet)
        if watch {
            let healthy = try await untilInterrupted { [options] in await probe.watch(workers, json: options.json) }
            if !healthy { throw ExitCode(1) }
            return
        }
        let results = await probe.check(workers).map { $0.noting(Retirement.find(root: deployment.root, worker: $0.worker)) }
        if options.json {
            let objects = results.map(\.jsonObject)
            Console.printJSON(worker != nil ? objects[0] : objects as Any)
        } else {
            for result in results { Console.out(result.line) }
        }
        // Asked by name, a retired worker is still not SERVING (a health check answers that).
        if !results.allSatisfy({ $0.isServing || (all && $0.isRetired) }) { throw ExitCode(1) }
    }
}

/// One health answer (or the lack of one).
struct HealthResult: Sendable {
    var worker: String
    /// The instance that answered, when one did.
    var instance: String?
    /// SERVING, NOT_SERVING, SERVICE_UNKNOWN, UNKNOWN, or UNREACHABLE (no answer).
    var status: String
    var message: String
    /// How long the answer took (connecting included).
    var elapsed: Duration = .zero

    var isServing: Bool { status == Pipebus_Health_V1_HealthCheckResponse.ServingStatus.serving.description }

    static let retired = "RETIRED"
    var isRetired: Bool { status == Self.retired }

    /// A retired worker's result: RETIRED when its sidecar does not answer, else its answer
    /// with a note that it was retired.
    func noting(_ retirement: Retirement?) -> HealthResult {
        guard let retirement else { return self }
        var result = self
        if status == "UNREACHABLE" || status == "UNKNOWN" {
            result.status = Self.retired
            result.message = retirement.summary
        } else {
            result.message = "\(retirement.summary), but its sidecar answers" + (message.isEmpty ? "" : "; \(message)")
        }
        return result
    }

    var line: String { "\(worker): \(status)" + (message.isEmpty ? "" : " (\(message))") }

    var jsonObject: [String: Any] {
        var object: [String: Any] = ["worker": worker, "status": status, "message": message, "elapsed_seconds": DurationText.seconds(elapsed)]
        if let instance { object["instance"] = instance }
        return object
    }

    /// Better first: SERVING, then an answer, then no answer.
    var rank: Int {
        if isServing { return 0 }
        return status == "UNREACHABLE" ? 2 : 1
    }
}

/// Checks and watches health, each worker at once.
struct HealthProbe: Sendable {
    let deployment: Deployment
    let service: String
    let timeout: Duration
    /// One instance to ask; nil: every instance, SERVING if any is.
    var instance: String? = nil
    /// Sidecars on other hosts (`--fleet`, `--target`): each target stands for an instance.
    var fleet: Fleet? = nil

    func check(_ workers: [String]) async -> [HealthResult] {
        await withTaskGroup(of: HealthResult.self) { group in
            for worker in workers {
                group.addTask { await check(worker) }
            }
            var results: [HealthResult] = []
            for await result in group { results.append(result) }
            return results.sorted { $0.worker < $1.worker }
        }
    }

    /// The worker's health: its instance's, or the best of its instances' (each asked at once).
    func check(_ worker: String) async -> HealthResult {
        if let fleet {
            return await best(of: fleet.instances(of: worker)) { target in await check(worker, target: target, fleet: fleet) }
        }
        let paths = SidecarPaths(root: deployment.root, worker: worker)
        // An instance retired on its own (scaled down) is not asked; the worker's own mark is
        // applied by the caller.
        let instances = instance.map { [$0] }
            ?? paths.instances().filter { !FileManager.default.fileExists(atPath: Retirement.path(root: deployment.root, worker: worker, instance: $0)) }
        guard !instances.isEmpty else {
            if instance == nil, !paths.instances().isEmpty {
                return HealthResult(worker: worker, status: HealthResult.retired, message: "every instance is retired")
            }
            return HealthResult(worker: worker, status: "UNREACHABLE", message: "no sidecar of this worker has run under \(deployment.root)")
        }
        return await best(of: instances) { instance in await check(worker, instance: instance, paths: paths) }
    }

    /// Every instance asked at once; the best answer, noting the others when there are several.
    private func best(of instances: [String], _ ask: @escaping @Sendable (String) async -> HealthResult) async -> HealthResult {
        let results = await withTaskGroup(of: HealthResult.self) { group in
            for instance in instances {
                group.addTask { await ask(instance) }
            }
            var results: [HealthResult] = []
            for await result in group { results.append(result) }
            return results.sorted { ($0.rank, $0.instance ?? "") < ($1.rank, $1.instance ?? "") }
        }
        guard var best = results.first else { return HealthResult(worker: "", status: "UNKNOWN", message: "") }
        if results.count > 1 {
            let serving = results.filter(\.isServing).count
            let each = results.map { "\($0.instance ?? "?") \($0.status)" }.joined(separator: ", ")
            best.message = "\(serving) of \(results.count) instances serving: \(each)" + (best.message.isEmpty ? "" : "; \(best.message)")
        }
        return best
    }

    /// One Check of one instance; connecting and the call together take at most `timeout`.
    func check(_ worker: String, instance: String, paths: SidecarPaths) async -> HealthResult {
        let started = ContinuousClock.now
        var configuration = PipeConnector.Configuration.defaults
        configuration.connectTimeout = timeout
        configuration.connection.clientName = "pipebus-health"
        let client = PipeClient(directory: paths.pipeDirectory(instance: instance), configuration: configuration)
        defer { client.close() }
        var result: HealthResult
        do {
            let connection = try client.connection()
            let remaining = max(.milliseconds(1), timeout - started.duration(to: .now))
            let response = try await connection.unary(
                Pipebus_Health_V1_Health.Method.Check.descriptor,
                request: Pipebus_Health_V1_HealthCheckRequest(service: service),
                timeout: remaining,
                responseType: Pipebus_Health_V1_HealthCheckResponse.self
            )
            result = HealthResult(worker: worker, status: response.status.description, message: response.message)
        } catch {
            result = Self.result(worker: worker, error: error)
        }
        result.instance = instance
        result.elapsed = started.duration(to: .now)
        return result
    }

    /// One Check of a remote sidecar, within `timeout` (connecting included).
    func check(_ worker: String, target: String, fleet: Fleet) async -> HealthResult {
        let started = ContinuousClock.now
        var result: HealthResult
        do {
            let response = try await fleet.client(for: worker, instance: target).healthService.check(
                Pipebus_Health_V1_HealthCheckRequest(service: service),
                timeout: timeout
            )
            result = HealthResult(worker: worker, status: response.status.description, message: response.message)
        } catch {
            result = Self.result(worker: worker, error: error)
        }
        result.instance = target
        result.elapsed = started.duration(to: .now)
        return result
    }

    static func result(worker: String, error: any Error) -> HealthResult {
        if let error = error as? RPCError, error.code == .notFound {
            return HealthResult(
                worker: worker,
                status: Pipebus_Health_V1_HealthCheckResponse.ServingStatus.serviceUnknown.description,
                message: error.message
            )
        }
        if let error = error as? RPCError, error.code == .unavailable {
            return HealthResult(
                worker: worker,
                status: "UNREACHABLE",
                message: "the sidecar is not running or not answering: \(error.message)"
            )
        }
        if let error = error as? RPCError, error.code == .deadlineExceeded {
            return HealthResult(worker: worker, status: "UNREACHABLE", message: "no answer in time: \(error.message)")
        }
        return HealthResult(worker: worker, status: "UNKNOWN", message: "\(error)")
    }

    /// Prints each worker's status when it changes, reconnecting every second while a sidecar
    /// is away, until cancelled; true if every worker's last status was SERVING.
    func watch(_ workers: [String], json: Bool) async -> Bool {
        let latest = Mutex<[String: HealthResult]>([:])
        let report: @Sendable (HealthResult) -> Void = { result in
            let changed = latest.withLock { latest -> Bool in
                defer { latest[result.worker] = result }
                return latest[result.worker].map { $0.status != result.status || $0.message != result.message } ?? true
            }
            guard changed else { return }
            if json {
                var object = result.jsonObject
                object["timestamp"] = Timestamp.iso8601(Date())
                Console.printJSON(object, compact: true)
            } else {
                Console.out(
                    "\(Timestamp.clock(milliseconds: Int64(Date().timeIntervalSince1970 * 1000)))  \(result.line)"
                )
            }
        }
        await withTaskGroup(of: Void.self) { group in
            for worker in workers {
                group.addTask {
                    if let fleet {
                        await follow(fleet.client(for: worker), worker: worker, report: report)
                        return
                    }
                    await deployment.withSidecar(worker, connectTimeout: timeout, callTimeout: timeout) { client in
                        await follow(client, worker: worker, report: report)
                    }
                }
            }
        }
        return latest.withLock { latest in workers.allSatisfy { latest[$0]?.isServing ?? false } }
    }

    /// Reports each status `client`'s sidecar sends, and its absence, reconnecting every second.
    private func follow(_ client: SidecarClient, worker: String, report: @Sendable (HealthResult) -> Void) async {
        while !Task.isCancelled {
            do {
                try await client.watchHealth(service: service) { responses in
                    for try await response in responses {
                        report(
                            HealthResult(
                                worker: worker,
                                status: response.status.description,
                                message: response.message
                            )
                        )
                    }
                }
                if Task.isCancelled { break }
                report(
                    HealthResult(
                        worker: worker,
                        status: "UNREACHABLE",
                        message: "the sidecar ended the watch"
                    )
                )
            } catch {
                if Task.isCancelled { break }
                report(Self.result(worker: worker, error: error))
            }
            await pause(.seconds(1))
        }
    }
}
