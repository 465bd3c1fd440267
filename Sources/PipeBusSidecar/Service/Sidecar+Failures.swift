import Foundation
import PipeBusCore
import PipeBusTasks

/// The failures `pipebus status` and the heartbeat count ("FAIL 5m"), and the worker errors a
/// failed task file declares.
extension Sidecar {
    /// The window of `failures_last_5m`.
    static let recentFailureWindow: Duration = .seconds(300)

    /// Tasks that entered `failed/` within the window, read from the spool (the time each
    /// entered the folder): what the count starts from, so a restarted sidecar shows the same
    /// figure as before; each move into `failed/` seen afterwards adds one.
    func seedRecentFailures() {
        var query = TaskListingQuery()
        query.states = [.failed]
        query.enteredWithin = Self.recentFailureWindow
        var entered: [Date] = []
        do {
            var listing = try spool.listing(query)
            while let record = try listing.next() { entered.append(record.enteredState) }
        } catch {
            logger.warning("could not count the recent failures in failed/", metadata: ["error": "\(error)"])
            return
        }
        state.withLock { $0.recentFailures = entered }
    }

    func noteFailure(at date: Date) {
        state.withLock { $0.noteFailure(at: date) }
    }

    /// A task that entered `failed/` with `"error_kind": "claude_api"` counts in
    /// `claude_api_errors_total`: the way a spool worker reports its Claude failures (a pipe
    /// worker may also call ReportWorkerErrors).
    func countWorkerError(of id: TaskID) {
        countWorkerError(in: try? spool.get(id, in: .failed))
    }

    /// `countWorkerError(of:)` for a failed task already read.
    func countWorkerError(in record: TaskRecord?) {
        if record?.errorKind == TaskFile.ErrorKind.claudeAPI { metrics.claudeAPIErrors(1) }
    }
}

extension Sidecar.RuntimeState {
    mutating func noteFailure(at date: Date) {
        recentFailures.append(date)
        let window = TimeInterval(Sidecar.recentFailureWindow.components.seconds)
        recentFailures.removeAll { date.timeIntervalSince($0) > window }
    }

    /// Failures within the window before `now`.
    func failures(before now: Date) -> Int {
        let window = TimeInterval(Sidecar.recentFailureWindow.components.seconds)
        return recentFailures.count { now.timeIntervalSince($0) <= window }
    }
}
