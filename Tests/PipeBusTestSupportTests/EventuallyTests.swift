import PipeBusTestSupport
import Testing

@Suite("eventually")
struct EventuallyTests {
    struct Refused: Error, CustomStringConvertible {
        var description: String { "connection refused" }
    }

    @Test("returns once the condition holds")
    func holds() async throws {
        var checks = 0
        try await eventually("the third check") {
            checks += 1
            return checks == 3
        }
        #expect(checks == 3)
    }

    @Test("a condition that never holds fails, naming what was awaited and the last error")
    func timesOut() async throws {
        let error = await #expect(throws: TimeoutError.self) {
            try await eventually("the server to listen", timeout: .milliseconds(60), every: .milliseconds(10)) {
                throw Refused()
            }
        }
        #expect(error?.description == "timed out after 0.06 seconds waiting for the server to listen; last error: connection refused")
    }

    @Test("eventuallyValue returns the first value")
    func value() async throws {
        var count = 0
        let found = try await eventuallyValue("a value") { () -> Int? in
            count += 1
            return count >= 2 ? count * 10 : nil
        }
        #expect(found == 20)
    }
}
