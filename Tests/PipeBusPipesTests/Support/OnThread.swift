import PipeBusCore
import PipeBusTestSupport

/// Runs blocking work (a `PipeServer.shutdown`, a blocking read, a handshake) on its own thread so
/// that it never holds one of the cooperative pool's two threads here (DESIGN §5).
func onThread<T: Sendable>(
    _ name: String = "test-blocking",
    _ body: @escaping @Sendable () throws -> T
) async throws -> T {
    let outcome = TestEvent<Result<T, any Error>>()
    let thread = OSThread(name: name) {
        do { outcome.fulfill(.success(try body())) } catch { outcome.fulfill(.failure(error)) }
    }
    defer { thread.join() }
    return try await outcome.wait(.seconds(60), for: "\(name) to finish").get()
}
