public import PipeBusPipes

/// A client of `worker`'s sidecar (of `instance`, or of any of its instances) for the duration
/// of `body`, closed when `body` returns or throws: calls still in flight then fail with
/// UNAVAILABLE, and nobody has to remember `close()`. The arguments are `SidecarClient.init`'s.
///
///     let status = try await withSidecarClient(root: "/shared", worker: "marie") { client in
///         try await client.status()
///     }
public func withSidecarClient<Result>(
    root: String,
    worker: String,
    instance: String? = nil,
    breaker: CircuitBreaker = CircuitBreaker(),
    defaultTimeout: Duration = .seconds(5),
    configuration: PipeConnector.Configuration = .defaults,
    _ body: (SidecarClient) async throws -> Result
) async rethrows -> Result {
    let client = SidecarClient(
        root: root,
        worker: worker,
        instance: instance,
        breaker: breaker,
        defaultTimeout: defaultTimeout,
        configuration: configuration
    )
    // Closing fails what is in flight and wakes the reader; it does not wait for anything.
    defer { client.close() }
    return try await body(client)
}
