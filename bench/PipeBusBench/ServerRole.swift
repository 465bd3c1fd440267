import Glibc
import Logging
import PipeBusCore
import PipeBusPipes
import PipeBusEcho

/// The server peer: serves `EchoService` (and `BenchService`) over FIFOs in a directory until
/// its standard input closes, then shuts down gracefully and reports the server's metrics.
///
/// The harness starts it with `standardInput: .pipe` and closes that pipe when the clients
/// are done; a harness that dies closes it too, so no server outlives its run.
enum ServerRole: PeerRole {
    struct Configuration: Codable, Sendable {
        /// The server's `PipeDirectory`; it must not exist yet (the server creates it 0700).
        var directory: String
        var settings: TransportSettings
        /// Where the server's warnings go (stderr, redirected there); nil keeps stderr, which the
        /// harness reads only when the peer exits.
        var logPath: String?
    }

    struct Report: Codable, Sendable {
        /// The server's write-latency histogram over its whole life.
        var writeLatency: WriteLatencyCounts
        var framesSent: UInt64
        var bytesSent: UInt64
        var framesReceived: UInt64
        var connectionErrors: [String: UInt64]
    }

    static let name = "server"

    static func run(_ configuration: Configuration) async throws -> Report {
        if let logPath = configuration.logPath {
            let fd = open(logPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
            guard fd >= 0, dup2(fd, STDERR_FILENO) >= 0 else {
                throw BenchError("cannot log to \(logPath)", errno: errno)
            }
            close(fd)
        }
        let metrics = TransportMetrics()
        var router = Router()
        router.register(EchoService())
        BenchService.register(in: &router, metrics: metrics)
        // Warnings only, and on stderr: stdout carries this peer's report.
        var logger = Logger(label: "pipebus-bench.server") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = .warning
        let server = try PipeServer(
            directory: PipeDirectory(path: configuration.directory),
            router: router,
            configuration: configuration.settings.serverConfiguration,
            metrics: metrics,
            logger: logger
        )
        try server.start()
        waitForEndOfStandardInput()
        server.shutdown(graceful: true)

        let snapshot = metrics.snapshot()
        return Report(
            writeLatency: WriteLatencyCounts(metrics.writeLatency.snapshot()),
            framesSent: snapshot.framesSent,
            bytesSent: snapshot.bytesSent,
            framesReceived: snapshot.framesReceived,
            connectionErrors: snapshot.connectionErrors
        )
    }

    /// Blocks this (cooperative-pool) thread until stdin reaches end of file. The server's
    /// work runs on its own threads, so the pool has nothing else to do meanwhile.
    private static func waitForEndOfStandardInput() {
        var byte: UInt8 = 0
        while true {
            let count = read(STDIN_FILENO, &byte, 1)
            if count == 0 || (count < 0 && errno != EINTR) { return }
        }
    }
}
