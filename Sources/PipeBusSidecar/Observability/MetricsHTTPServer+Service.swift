public import ServiceLifecycle

/// A `MetricsHTTPServer` in a `ServiceGroup`.
extension MetricsHTTPServer: Service {
    /// Holds the server's lifetime: serves until the group's graceful shutdown (or
    /// cancellation), then stops listening and closes every connection.
    ///
    /// It does not bind: `start(host:port:)` does, before or while this runs, so that its
    /// caller learns the port (and that it is taken) at once (the sidecar binds only once it
    /// holds its instance).
    public func run() async throws {
        try? await gracefulShutdown()
        await shutdown()
    }
}
