public import ServiceLifecycle
import PipeBusCore

/// A `PipeServer` in a `ServiceGroup`.
extension PipeServer: Service {
    /// Holds the server's lifetime: waits for the group's graceful shutdown, then shuts the
    /// server down gracefully (GOAWAY, calls in flight drained for up to `drainTimeout`); when
    /// cancelled instead, at once (calls in flight cancelled). Returns once every connection
    /// has ended.
    ///
    /// It does not start the server: `start()` does, before or while this runs. So the owner
    /// starts serving when it is ready for clients (the sidecar, once it has recovered its
    /// spool) and learns at once that the directory is someone else's.
    public func run() async throws {
        let graceful: Bool
        do {
            try await gracefulShutdown()
            graceful = true
        } catch {
            graceful = false
        }
        // On a thread of its own: the shutdown joins the server's threads and waits for the
        // drain, which must not hold a thread of the cooperative pool.
        await OSThread.run("pipebus-stop") { self.shutdown(graceful: graceful) }
    }
}
