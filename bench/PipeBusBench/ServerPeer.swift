import FoundationEssentials

/// A server peer serving a fresh private directory, from the harness's side: start it, run
/// client peers against it, stop it and read its report. The directory is removed when the
/// server stops (or when this is dropped).
final class ServerPeer {
    /// The private temporary directory (0700) that holds the server's pipe directory.
    let root: String
    /// The server's `PipeDirectory`, `<root>/pipes`.
    var pipeDirectory: String { root + "/pipes" }
    let placement: Placement
    let settings: TransportSettings
    private let context: BenchContext
    private var process: ChildProcess?

    /// Starts a server pinned to `placement.serverCPU`; `wrapper` runs it under another
    /// program (strace).
    init(context: BenchContext, placement: Placement, settings: TransportSettings, wrapper: [String] = []) throws {
        self.context = context
        self.placement = placement
        self.settings = settings
        self.root = try ScratchDirectory.make()
        do {
            process = try context.peers.start(
                ServerRole.self,
                configuration: ServerRole.Configuration(
                    directory: root + "/pipes",
                    settings: settings,
                    logPath: root + "/server.log"
                ),
                cpus: [placement.serverCPU],
                standardInput: .pipe,
                wrapper: wrapper
            )
        } catch {
            try? FileManager.default.removeItem(atPath: root)
            throw error
        }
    }

    deinit {
        process = nil  // kills a server that was not stopped
        try? FileManager.default.removeItem(atPath: root)
    }

    /// The client configuration of `workloads` against this server, with its settings.
    func clientConfiguration(_ workloads: [Workload], barrier: StartBarrier? = nil) -> ClientRole.Configuration {
        ClientRole.Configuration(
            directory: pipeDirectory,
            settings: settings,
            workloads: workloads,
            barrier: barrier?.directory
        )
    }

    /// Runs one client peer pinned to `placement.clientCPU` and returns its measurements.
    func runClient(_ workloads: [Workload], wrapper: [String] = []) throws -> [WorkloadMeasurement] {
        do {
            let client = try context.peers.start(
                ClientRole.self,
                configuration: clientConfiguration(workloads),
                cpus: [placement.clientCPU],
                wrapper: wrapper
            )
            return try context.peers.report(of: client, as: ClientRole.self).measurements
        } catch {
            throw withServerLog(error)
        }
    }

    /// Runs `count` client peers at once, each measuring `workloads`, their measured parts
    /// started together by a barrier; returns each client's measurements.
    func runClients(_ count: Int, _ workloads: [Workload]) throws -> [[WorkloadMeasurement]] {
        do {
            let barrier = try StartBarrier(directory: try ScratchDirectory.make(in: root, prefix: "barrier"))
            let clients = try (0..<count).map { _ in
                try context.peers.start(
                    ClientRole.self,
                    configuration: clientConfiguration(workloads, barrier: barrier),
                    cpus: [placement.clientCPU]
                )
            }
            try barrier.waitForArrivals(count, timeout: context.peers.timeout)
            barrier.release()
            return try clients.map { try context.peers.report(of: $0, as: ClientRole.self).measurements }
        } catch {
            throw withServerLog(error)
        }
    }

    /// The server's log (warnings only), which it writes to `<root>/server.log`.
    var logPath: String { root + "/server.log" }

    /// A client failed: the server's last warning (why it closed a connection, say) is added to
    /// the error. The server serves on; other connections are unaffected.
    private func withServerLog(_ error: any Error) -> any Error {
        guard let data = FileManager.default.contents(atPath: logPath) else { return error }
        let warnings = String(decoding: data, as: UTF8.self).split(separator: "\n")
        guard let reason = warnings.last else { return error }
        return BenchError("\(error)\nserver: \(reason)")
    }

    /// Tells the server to stop (its stdin closes), waits for it and returns its report.
    func stop() throws -> ServerRole.Report {
        guard let process else { throw BenchError("the server peer was already stopped") }
        self.process = nil
        process.closeStandardInput()
        let report = try context.peers.report(of: process, as: ServerRole.self)
        for (reason, count) in report.connectionErrors.sorted(by: { $0.key < $1.key }) {
            context.progress.relay("note: the server counted \(count) connection error(s) '\(reason)'")
        }
        try? FileManager.default.removeItem(atPath: root)
        return report
    }

    /// One server and one client: the client's measurements of `workloads`, and the server's report.
    static func measure(
        _ workloads: [Workload],
        context: BenchContext,
        placement: Placement,
        settings: TransportSettings
    ) throws -> (client: [WorkloadMeasurement], server: ServerRole.Report) {
        let server = try ServerPeer(context: context, placement: placement, settings: settings)
        let measurements = try server.runClient(workloads)
        return (measurements, try server.stop())
    }
}
