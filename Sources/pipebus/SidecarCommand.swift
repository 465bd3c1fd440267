import ArgumentParser
import Foundation
import Logging
import PipeBusCore
import PipeBusPipes
import PipeBusSidecar
import ServiceLifecycle
#if GRPC
import PipeBusGRPC
#endif

/// `pipebus sidecar`: what runs beside each worker.
struct SidecarCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sidecar",
        abstract: "Run beside a worker: spool, heartbeats, health, metrics, and the pipe services.",
        discussion: """
            With `-- COMMAND ARGS...` the sidecar starts the worker, forwards SIGTERM/SIGINT to it and \
            reports NOT_SERVING once it has exited. The worker's environment names the root \
            (PIPEBUS_ROOT), its name (PIPEBUS_WORKER) and the sidecar's pipe directory (PIPEBUS_PIPE_DIR).
            """
    )

    @Option(help: "The worker's name, e.g. marie.")
    var worker: String

    @Option(help: "The shared root directory (default: $PIPEBUS_ROOT or /shared).")
    var root: String?

    @Option(help: "This instance's id, so that a worker can be scaled out: each instance has its own pipes, lock and heartbeat under <root>/workers/<worker>/instances/<id>/ and shares the spool (default: the host's short name, which differs between containers).")
    var instance: String?

    @Option(help: "HOST:PORT to serve /metrics on, or 'none'.")
    var metricsAddress = "127.0.0.1:9464"

    @Option(
        help: ArgumentHelp("Time between heartbeats, e.g. 2s, 500ms (a bare number is seconds).", valueName: "duration"),
        transform: secondsOrDurationOption
    )
    var heartbeatInterval: Duration = .seconds(2)

    @Option(
        help: ArgumentHelp("Time between retention passes, which archive finished tasks past the limits of the worker config (README, Retention).", valueName: "duration"),
        transform: secondsOrDurationOption
    )
    var retentionInterval: Duration = .seconds(60)

    @Option(help: "How the worker takes tasks: spool (it moves files itself) or pipe (it leases them).")
    var mode = "spool"

    @Option(help: "The `job` field of log lines, and the service name of exported spans unless OTEL_SERVICE_NAME is set.")
    var job = "agent-orchestrator"

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel = "info"

    @Option(help: ArgumentHelp("Also serve the services over gRPC (HTTP/2) at HOST:PORT, [IPV6]:PORT or unix:PATH, for orchestrators on other hosts and clients in any language (off by default). Port 0 lets the kernel pick; the log line \"serving gRPC\" gives the address.", valueName: "address"))
    var grpcListen: String?

    @Option(help: ArgumentHelp("Serve gRPC over TLS with this certificate chain (PEM).", valueName: "file"))
    var grpcTlsCert: String?

    @Option(help: ArgumentHelp("The key of --grpc-tls-cert (PEM).", valueName: "file"))
    var grpcTlsKey: String?

    @Option(help: ArgumentHelp("Mutual TLS: only clients with a certificate from this CA (PEM) may call.", valueName: "file"))
    var grpcTlsClientCa: String?

    @Flag(help: "Allow gRPC in plaintext on an address other hosts can reach (plaintext is always allowed on loopback and unix sockets).")
    var grpcInsecure = false

    @Flag(help: "Start even though the root is on a network file system (NFS, CIFS): only if no other host uses this spool.")
    var allowNetworkFilesystem = false

    @Argument(parsing: .postTerminator, help: "The worker command to start and supervise.")
    var command: [String] = []

    func validate() throws {
        guard heartbeatInterval > .zero else { throw ValidationError("--heartbeat-interval must be positive") }
        guard retentionInterval > .zero else { throw ValidationError("--retention-interval must be positive") }
        guard Sidecar.WorkerMode(rawValue: mode) != nil else { throw ValidationError("--mode must be spool or pipe") }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("unknown --log-level \(logLevel)") }
        if let instance, let problem = NameRule.component.problem(with: instance) {
            throw ValidationError("--instance \(instance): \(problem)")
        }
        if grpcListen == nil && (grpcTlsCert != nil || grpcTlsKey != nil || grpcTlsClientCa != nil || grpcInsecure) {
            throw ValidationError("the --grpc-* options need --grpc-listen")
        }
    }

    /// The gRPC bridge's configuration, checked: the address parses, TLS is whole and its files
    /// are readable, plaintext only where allowed.
    func grpcConfiguration() throws -> GRPCSettings? {
        guard let grpcListen else { return nil }
        #if GRPC
        var configuration = GRPCBridgeServer.Configuration(address: try GRPCListenAddress(parsing: grpcListen))
        configuration.allowInsecure = grpcInsecure
        if grpcTlsCert != nil || grpcTlsKey != nil || grpcTlsClientCa != nil {
            configuration.tls = GRPCTLSFiles(certificateChain: grpcTlsCert, privateKey: grpcTlsKey, trustedCA: grpcTlsClientCa)
        }
        try configuration.validate()
        for (flag, path) in [("--grpc-tls-cert", grpcTlsCert), ("--grpc-tls-key", grpcTlsKey), ("--grpc-tls-client-ca", grpcTlsClientCa)] {
            guard let path else { continue }
            guard FileManager.default.isReadableFile(atPath: path) else {
                throw RPCError(code: .invalidArgument, message: "\(flag) \(path): \(FileManager.default.fileExists(atPath: path) ? "not readable" : "no such file")")
            }
        }
        return configuration
        #else
        throw RPCError(code: .unimplemented, message: "this pipebus was built without gRPC (the package trait GRPC): --grpc-listen is not available")
        #endif
    }

    func run() async throws {
        // Before the connections' threads start: a thread per connection otherwise leaves glibc
        // with up to 8 heaps per CPU, each holding what it freed (see MallocArenas).
        let environment = ProcessInfo.processInfo.environment
        let arenaLimit = MallocArenas.limit(environment: environment, processorCount: ProcessInfo.processInfo.activeProcessorCount)
        let arenasLimited = arenaLimit.map { MallocArenas.apply($0) }
        var configuration = Sidecar.Configuration(worker: worker, instance: instance ?? Sidecar.defaultInstance)
        configuration.root = root ?? environment["PIPEBUS_ROOT"] ?? "/shared"
        configuration.metricsAddress = metricsAddress == "none" ? nil : metricsAddress
        configuration.heartbeatInterval = heartbeatInterval
        configuration.retentionInterval = retentionInterval
        configuration.mode = Sidecar.WorkerMode(rawValue: mode) ?? .spool
        configuration.command = command
        configuration.allowNetworkFileSystem = allowNetworkFilesystem
        let factory = JSONLogHandler.factory(job: job, worker: worker, instance: configuration.instance, logLevel: Logger.Level(rawValue: logLevel) ?? .info)
        LoggingSystem.bootstrap(factory)
        let logger = Logger(label: "pipebus.sidecar")
        if let arenaLimit {
            if arenasLimited == true {
                logger.debug("malloc heaps limited", metadata: ["arena_max": "\(arenaLimit)"])
            } else {
                logger.warning("could not limit malloc heaps; memory freed by connection threads may stay with the process", metadata: ["arena_max": "\(arenaLimit)"])
            }
        }

        let traces: TraceExport?
        do {
            traces = try TraceExport.startIfConfigured(defaultServiceName: job, logger: logger)
        } catch {
            logger.critical("cannot start exporting traces", metadata: ["error": "\(error)"])
            StartupFailure.tell("cannot start exporting traces", error)
            throw ExitCode(1)
        }

        let sidecar: Sidecar
        let grpc: GRPCSettings?
        do {
            grpc = try grpcConfiguration()
            sidecar = try Sidecar(configuration: configuration, logger: logger)
        } catch {
            logger.critical("cannot start the sidecar", metadata: ["error": "\(error)"])
            StartupFailure.tell("cannot start the sidecar of worker \(worker)", error)
            throw ExitCode(1)
        }
        // One group: the trace exporter, /metrics, the pipe server and the sidecar, shut down in
        // reverse order (the exporter last, so the shutdown's spans go out too). SIGTERM and
        // SIGINT shut it down gracefully; the sidecar's whole start runs inside it, so a signal
        // that comes while it is still starting (or right after it first answers) stops it
        // cleanly, it does not kill it. A service that fails shuts the others down gracefully.
        turnOffInterruptionDefaults()
        var services = sidecar.services.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0, failureTerminationBehavior: .gracefullyShutdownGroup) }
        if let traces { services.insert(.init(service: traces.service, failureTerminationBehavior: .gracefullyShutdownGroup), at: 0) }
        #if GRPC
        // Last: it shuts down first, so remote callers stop coming before the sidecar drains.
        if let grpc {
            let bridge = try GRPCBridgeServer(router: sidecar.router, configuration: grpc, logger: logger) { await sidecar.started() }
            services.append(.init(service: bridge, failureTerminationBehavior: .gracefullyShutdownGroup))
        }
        #else
        _ = grpc
        #endif
        var groupConfiguration = ServiceGroupConfiguration(services: services, logger: Logger(label: "pipebus.lifecycle") { _ in ServiceGroupLogHandler(forwardTo: logger) })
        groupConfiguration.gracefulShutdownSignals = [.sigterm, .sigint]
        do {
            try await ServiceGroup(configuration: groupConfiguration).run()
        } catch let refused as Sidecar.StartRefused {
            logger.critical("cannot start the sidecar", metadata: ["error": "\(refused.reason)"])
            StartupFailure.tell("cannot start the sidecar of worker \(worker)", refused.reason)
            throw ExitCode(1)
        } catch {
            logger.critical("sidecar failed", metadata: ["error": "\(error)"])
            StartupFailure.tell("the sidecar of worker \(worker) failed", error)
            throw ExitCode(1)
        }
    }
}

#if GRPC
typealias GRPCSettings = GRPCBridgeServer.Configuration
#else
typealias GRPCSettings = Never
#endif
