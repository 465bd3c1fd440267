import AsyncAlgorithms
import PipeBusCore
public import ServiceLifecycle

/// The sidecar in a `ServiceGroup`, beside its `/metrics` server and its pipe server.
extension Sidecar: Service {
    /// Thrown by `run()` when the sidecar could not claim its instance or bind `/metrics`: it
    /// started nothing (another sidecar runs as this instance, the port is taken, the worker
    /// command names no executable).
    public struct StartRefused: Error, CustomStringConvertible {
        public let reason: any Error
        public var description: String { "\(reason)" }
    }

    /// The services to run in one `ServiceGroup`, in this order: `/metrics`, the pipe server,
    /// the sidecar. A group shuts its services down one at a time, the last first, so the
    /// sidecar goes first (it drains its own pipe server: its leases must end before the drain,
    /// its worker only after), then the pipe server (stopped already, unless the sidecar never
    /// got to start it), and `/metrics` last: `/healthz` says NOT_SERVING throughout.
    public var services: [any Service] {
        [metricsServer as (any Service)?, state.withLock { $0.server }, self].compactMap { $0 }
    }

    /// Claims the instance, binds `/metrics`, recovers the spool and starts serving and the
    /// worker; then beats until the group's graceful shutdown (or cancellation), and shuts down
    /// gracefully: NOT_SERVING, leases returned, GOAWAY and drain, the worker stopped, a final
    /// heartbeat. Throws `StartRefused`, or the error that stopped the start; a start that fails
    /// leaves nothing behind.
    public func run() async throws {
        do {
            try await OSThread.run("pipebus-start") { try self.claimInstance() }
            _ = try await startMetricsServer()
        } catch {
            await undoStart()
            throw StartRefused(reason: error)
        }
        do {
            try await OSThread.run("pipebus-start") { try self.start() }
        } catch {
            await undoStart()
            throw error
        }
        await withDiscardingTaskGroup { group in
            group.addTask {
                for await _ in self.deferredReportAdditions { await self.reportDeferredMoves() }
            }
            group.addTask {
                // Off the pipe's hot path and the heartbeat's: a thread of its own, at its own pace.
                await OSThread.run("pipebus-retention") { self.runRetention() }
                let passes = AsyncTimerSequence(interval: self.configuration.retentionInterval, clock: .continuous)
                for await _ in passes.cancelOnGracefulShutdown() {
                    await OSThread.run("pipebus-retention") { self.runRetention() }
                }
            }
            let beats = AsyncTimerSequence(interval: configuration.heartbeatInterval, clock: .continuous)
            for await _ in beats.cancelOnGracefulShutdown() {
                await OSThread.run("pipebus-tick") { self.tick() }
            }
            group.cancelAll()
        }
        await OSThread.run("pipebus-stop") { self.shutdown() }
    }

    /// Undoes a start that failed (`abandonStart`), and stops `/metrics`.
    private func undoStart() async {
        await OSThread.run("pipebus-stop") { self.abandonStart() }
        await metricsServer?.shutdown()
    }
}
