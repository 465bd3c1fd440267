extension OSThread {
    /// Runs `body` on a new thread named `name` and returns what it returns, the calling task
    /// suspended meanwhile. For the blocking work of a start or a shutdown (a join, an fsync, a
    /// wait for a child process to exit): done inline, it would hold one of the few threads of
    /// Swift's cooperative pool for as long as it blocks.
    public static func run<Value: Sendable>(_ name: String, _ body: @escaping @Sendable () throws -> Value) async throws -> Value {
        try await withCheckedThrowingContinuation { continuation in
            OSThread(name: name) { continuation.resume(with: Result { try body() }) }.detach()
        }
    }

    /// `run(_:_:)` for a body that does not throw.
    public static func run<Value: Sendable>(_ name: String, _ body: @escaping @Sendable () -> Value) async -> Value {
        await withCheckedContinuation { continuation in
            OSThread(name: name) { continuation.resume(returning: body()) }.detach()
        }
    }
}
