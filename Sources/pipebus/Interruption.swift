import UnixSignals

#if canImport(Glibc)
import Glibc
#endif

/// Runs `body` until it returns or SIGINT/SIGTERM arrives; the signal cancels it, and `body`
/// sees the cancellation (live views, `watch`, the demo worker end cleanly that way).
func untilInterrupted<Result: Sendable>(_ body: @escaping @Sendable () async throws -> Result) async throws -> Result {
    try await interruptible(body).result.get()
}

/// Runs `body` until it returns; SIGINT or SIGTERM meanwhile cancels it. Returns what `body`
/// returned or threw once it has ended, and whether a signal cancelled it.
func interruptible<Value: Sendable>(
    _ body: @escaping @Sendable () async throws -> Value
) async -> (result: Result<Value, any Error>, interrupted: Bool) {
    let signals = await interruptionSignals()
    return await withTaskGroup(of: Interruptible<Value>.self) { group in
        group.addTask {
            do {
                return .ended(.success(try await body()))
            } catch {
                return .ended(.failure(error))
            }
        }
        group.addTask {
            for await _ in signals { return .signalled }
            return .signalled  // only when cancelled: `body` ended first
        }
        var interrupted = false
        while let next = await group.next() {
            switch next {
            case .signalled:
                interrupted = true
                group.cancelAll()
            case .ended(let result):
                group.cancelAll()
                return (result, interrupted)
            }
        }
        return (.failure(CancellationError()), interrupted)
    }
}

private enum Interruptible<Value: Sendable>: Sendable {
    case ended(Result<Value, any Error>)
    case signalled
}

/// SIGTERM and SIGINT as a sequence.
func interruptionSignals() async -> UnixSignalsSequence {
    turnOffInterruptionDefaults()
    return await UnixSignalsSequence(trapping: .sigint, .sigterm)
}

/// Turns off the default action (ending the process) of SIGTERM and SIGINT, before they are
/// watched with UnixSignals (here or by a ServiceGroup): its Dispatch sources observe a signal
/// without replacing its action, and swift-service-lifecycle turns the action off on Darwin only.
func turnOffInterruptionDefaults() {
    signal(SIGINT, SIG_IGN)
    signal(SIGTERM, SIG_IGN)
}

/// Sleeps, returning false instead of throwing when the task is cancelled.
@discardableResult
func pause(_ duration: Duration) async -> Bool {
    do {
        try await Task.sleep(for: duration)
        return true
    } catch {
        return false
    }
}
