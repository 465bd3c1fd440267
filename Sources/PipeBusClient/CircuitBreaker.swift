import PipeBusCore
import Synchronization

/// A per-worker circuit breaker, as the runbook's: CLOSED → OPEN after `failureThreshold`
/// consecutive failures; OPEN refuses calls until `openTimeout` has passed, then HALF_OPEN lets
/// one probe through: its failure re-opens at once, its success closes.
public final class CircuitBreaker: Sendable {
    public enum State: String, Hashable, Sendable, CustomStringConvertible {
        case closed = "CLOSED"
        case open = "OPEN"
        case halfOpen = "HALF_OPEN"
        public var description: String { rawValue }
    }

    private struct Inner {
        var state = State.closed
        var failures = 0
        var openedAt: ContinuousClock.Instant?
        var probeInFlight = false
    }

    public let failureThreshold: Int
    public let openTimeout: Duration
    private let clock: @Sendable () -> ContinuousClock.Instant
    private let inner = Mutex(Inner())

    public init(
        failureThreshold: Int = 5,
        openTimeout: Duration = .seconds(60),
        clock: @escaping @Sendable () -> ContinuousClock.Instant = { ContinuousClock.now }
    ) {
        self.failureThreshold = max(1, failureThreshold)
        self.openTimeout = openTimeout
        self.clock = clock
    }

    /// The state now (an OPEN breaker whose timeout has passed reads as HALF_OPEN).
    public var state: State {
        inner.withLock { inner in
            if inner.state == .open, let openedAt = inner.openedAt, clock() - openedAt >= openTimeout { return .halfOpen }
            return inner.state
        }
    }

    /// Consecutive failures counted so far.
    public var failureCount: Int { inner.withLock { $0.failures } }

    /// Asks to make a call: nil to go ahead, or why not (the breaker is open, or a half-open
    /// probe is already in flight).
    public func admit() -> String? {
        inner.withLock { inner -> String? in
            switch inner.state {
            case .closed:
                return nil
            case .open:
                guard let openedAt = inner.openedAt, clock() - openedAt >= openTimeout else {
                    return "circuit breaker OPEN after \(inner.failures) failures"
                }
                inner.state = .halfOpen
                inner.probeInFlight = true
                return nil
            case .halfOpen:
                if inner.probeInFlight { return "circuit breaker HALF_OPEN: a probe is in flight" }
                inner.probeInFlight = true
                return nil
            }
        }
    }

    public func recordSuccess() {
        inner.withLock { inner in
            inner.state = .closed
            inner.failures = 0
            inner.openedAt = nil
            inner.probeInFlight = false
        }
    }

    public func recordFailure() {
        inner.withLock { inner in
            inner.failures += 1
            inner.probeInFlight = false
            if inner.state == .halfOpen || inner.failures >= failureThreshold {
                inner.state = .open
                inner.openedAt = clock()
            }
        }
    }

    /// Runs `call` through the breaker: refused with UNAVAILABLE while open; a thrown error
    /// counts as a failure unless `isFailure` says it is the caller's own (e.g. NOT_FOUND).
    public func call<Result>(
        isFailure: (any Error) -> Bool = CircuitBreaker.countsAsFailure,
        _ call: () async throws -> Result
    ) async throws -> Result {
        if let refusal = admit() { throw BreakerOpenError(message: refusal) }
        do {
            let result = try await call()
            recordSuccess()
            return result
        } catch {
            if isFailure(error) { recordFailure() } else { recordSuccess() }
            throw error
        }
    }

    /// Transport and server failures count; answers about the request (NOT_FOUND,
    /// INVALID_ARGUMENT, …) do not: the worker is fine.
    public static let countsAsFailure: @Sendable (any Error) -> Bool = { error in
        guard let error = error as? RPCError else { return true }
        return [.unavailable, .deadlineExceeded, .internal, .unknown, .resourceExhausted, .dataLoss].contains(error.code)
    }
}

/// The error a breaker throws while open: UNAVAILABLE, with the breaker's reason.
public struct BreakerOpenError: Error, Hashable, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { "UNAVAILABLE: \(message)" }
}
