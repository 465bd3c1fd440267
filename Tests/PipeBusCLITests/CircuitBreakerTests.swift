import PipeBusClient
import PipeBusCore
import Synchronization
import Testing

/// The breaker's transitions, on a clock the test moves by hand.
@Suite struct CircuitBreakerTests {
    /// A clock that only moves when told to.
    final class ManualClock: Sendable {
        private let now = Mutex(ContinuousClock.now)
        func read() -> ContinuousClock.Instant { now.withLock { $0 } }
        func advance(by duration: Duration) { now.withLock { $0 += duration } }
    }

    struct Refused: Error {}

    let clock = ManualClock()
    var breaker: CircuitBreaker {
        let clock = self.clock
        return CircuitBreaker(failureThreshold: 3, openTimeout: .seconds(60), clock: { clock.read() })
    }

    @Test func opensAfterThresholdFailuresAndRefusesWhileOpen() {
        let breaker = breaker
        #expect(breaker.state == .closed)
        breaker.recordFailure()
        breaker.recordFailure()
        #expect(breaker.state == .closed)
        #expect(breaker.failureCount == 2)
        breaker.recordFailure()
        #expect(breaker.state == .open)
        #expect(breaker.admit() != nil)
        clock.advance(by: .seconds(59))
        #expect(breaker.state == .open)
        #expect(breaker.admit()?.contains("OPEN") == true)
    }

    @Test func aSuccessResetsTheCount() {
        let breaker = breaker
        breaker.recordFailure()
        breaker.recordFailure()
        breaker.recordSuccess()
        breaker.recordFailure()
        breaker.recordFailure()
        #expect(breaker.state == .closed)
    }

    @Test func halfOpenAdmitsOneProbeAndAFailedProbeReopens() {
        let breaker = breaker
        for _ in 0..<3 { breaker.recordFailure() }
        clock.advance(by: .seconds(61))
        #expect(breaker.state == .halfOpen)
        #expect(breaker.admit() == nil)  // the probe
        #expect(breaker.admit()?.contains("probe is in flight") == true)  // only one
        breaker.recordFailure()  // the probe failed: open again at once, for a full timeout
        #expect(breaker.state == .open)
        #expect(breaker.admit() != nil)
        clock.advance(by: .seconds(30))
        #expect(breaker.state == .open)
        clock.advance(by: .seconds(31))
        #expect(breaker.state == .halfOpen)
        #expect(breaker.admit() == nil)
        breaker.recordSuccess()  // the probe succeeded: closed
        #expect(breaker.state == .closed)
        #expect(breaker.failureCount == 0)
        #expect(breaker.admit() == nil)
        #expect(breaker.admit() == nil)
    }

    @Test func callCountsTransportFailuresButNotAnswers() async throws {
        let breaker = breaker
        for _ in 0..<3 {
            await #expect(throws: RPCError.self) {
                try await breaker.call { () async throws -> Int in throw RPCError(code: .notFound, message: "no task") }
            }
        }
        #expect(breaker.state == .closed)
        for _ in 0..<3 {
            await #expect(throws: RPCError.self) {
                try await breaker.call { () async throws -> Int in throw RPCError(code: .unavailable, message: "gone") }
            }
        }
        #expect(breaker.state == .open)
        await #expect(throws: BreakerOpenError.self) {
            try await breaker.call { () async throws -> Int in 1 }
        }
        clock.advance(by: .seconds(61))
        await #expect(throws: RPCError.self) {
            try await breaker.call { () async throws -> Int in throw RPCError(code: .deadlineExceeded, message: "slow")
            }
        }
        #expect(breaker.state == .open)  // the failed half-open probe re-opened it
        clock.advance(by: .seconds(61))
        let value = try await breaker.call { () async throws -> Int in 7 }
        #expect(value == 7)
        #expect(breaker.state == .closed)
    }
}
