import Foundation
import PipeBusTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// Sidecars on several hosts (network namespaces, `NetworkNamespaces`), each with a root of its
/// own (one spool per host), serving gRPC on its host's address; the CLI runs on the hub, with a
/// fleet file naming each host's worker and target, written once the sidecars serve.
final class MultiHostDeployment: @unchecked Sendable {  // used by one test at a time
    let network: NetworkNamespaces
    private let directory: TemporaryDirectory
    private(set) var sidecars: [String: ChildProcess] = [:]
    /// Each sidecar's bound gRPC address (`HOST:PORT`), from its log.
    private(set) var addresses: [String: String] = [:]
    /// Heartbeats every 0.5 s: `watch` gets a steady line per host to follow.
    static let heartbeatInterval = 0.5

    /// The fleet file: each host's worker and its target.
    var fleetFile: String { directory.file("fleet.json") }

    private init(network: NetworkNamespaces, directory: TemporaryDirectory) {
        self.network = network
        self.directory = directory
    }

    /// Runs `body` with a fresh network of `hosts`, a root per host and the fleet file; stops
    /// every sidecar and removes the namespaces and roots afterwards.
    static func with<Result>(hosts: [String], _ body: (MultiHostDeployment) async throws -> Result) async throws -> Result {
        try await NetworkNamespaces.with(hosts: hosts) { network in
            let deployment = MultiHostDeployment(network: network, directory: try TemporaryDirectory(prefix: "pipebus-hosts"))
            do {
                let result = try await body(deployment)
                await deployment.tearDown()
                return result
            } catch {
                await deployment.tearDown()
                throw error
            }
        }
    }

    /// The worker that runs on `host`.
    func worker(on host: String) -> String { "\(host)-worker" }

    /// The target a client on the hub gives for `host` (once its sidecar serves).
    func target(of host: String) -> String {
        guard let address = addresses[host] else { preconditionFailure("no sidecar serves on \(host)") }
        return "grpc://\(address)"
    }

    /// `host`'s own root (no other host sees it).
    func root(of host: String) -> String { directory.file("root-\(host)") }

    /// Where a task of `host`'s worker is once in `state`.
    func taskFile(_ id: String, on host: String, state: String) -> String {
        "\(root(of: host))/tasks/\(worker(on: host))/\(state)/\(id).json"
    }

    /// Starts a sidecar on each of `hosts` at once, then writes the fleet file naming them.
    func startSidecars(on hosts: [String]) async throws {
        for host in hosts { try startSidecarProcess(on: host) }
        for host in hosts { try await waitUntilServing(host) }
        let workers = Dictionary(uniqueKeysWithValues: hosts.map { (worker(on: $0), [target(of: $0)]) })
        let data = try JSONSerialization.data(withJSONObject: ["workers": workers], options: [.sortedKeys])
        try data.write(to: URL(fileURLWithPath: fleetFile))
    }

    /// A pipe-mode sidecar on `host` supervising the fast demo worker, serving gRPC on the
    /// host's address, on a port the kernel picks (`--grpc-insecure`: plaintext off loopback).
    private func startSidecarProcess(on host: String) throws {
        let arguments = [
            CLI.executable, "sidecar", "--worker", worker(on: host), "--root", root(of: host),
            "--metrics-address", "none", "--heartbeat-interval", "\(Self.heartbeatInterval)", "--mode", "pipe",
            "--grpc-listen", "\(network[host].address):0", "--grpc-insecure", "--",
        ] + TestDeployment.demoWorker
        sidecars[host] = try ChildProcess(network.on(host, arguments), environment: CLI.environment)
    }

    /// Waits for `host`'s sidecar to log `serving gRPC` and keeps the address it bound.
    private func waitUntilServing(_ host: String) async throws {
        guard let sidecar = sidecars[host] else { return }
        let line = try await sidecar.line("the \"serving gRPC\" log line", in: .stderr, within: SidecarStartup.base) {
            $0.contains("serving gRPC")
        }
        guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
            let address = object["address"] as? String
        else { throw TestFailure("no address in the \"serving gRPC\" log line of \(host)'s sidecar: \(line)") }
        addresses[host] = address
    }

    /// Runs `pipebus arguments…` on the hub to completion.
    func run(_ arguments: [String], stdin: String? = nil, timeout: Duration = .seconds(60)) async throws -> CommandResult {
        CommandResult(
            try await ChildProcess.run(
                network.onHub([CLI.executable] + arguments),
                environment: CLI.environment,
                stdin: stdin.map { .text($0) } ?? .null,
                timeout: timeout
            )
        )
    }

    /// Starts `pipebus arguments…` on the hub, its output captured.
    func start(_ arguments: [String]) throws -> ChildProcess {
        try ChildProcess(network.onHub([CLI.executable] + arguments), environment: CLI.environment)
    }

    /// What starting the CLI on the hub costs now: the slowest of a few `pipebus --version`
    /// runs (see `TestDeployment.startupBaseline`).
    func startupBaseline() async throws -> Duration {
        var slowest = Duration.zero
        for _ in 0..<3 { slowest = max(slowest, try await run(["--version"]).elapsed) }
        return slowest
    }

    func tearDown() async {
        // Links back up first: a test that failed with a host cut off would otherwise wait out
        // the sidecar's stop, which waits for its gRPC clients to close (they cannot be told).
        for host in network.hosts.keys { try? await network.setLink(of: host, up: true) }
        for (_, sidecar) in sidecars { await sidecar.terminate() }
        sidecars.removeAll()
        directory.remove()
    }
}
