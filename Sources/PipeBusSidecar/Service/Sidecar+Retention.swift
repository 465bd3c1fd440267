import Foundation
import PipeBusTasks

#if canImport(Glibc)
import Glibc
#endif

/// Retention in the sidecar: a pass every `retentionInterval` on a thread of its own, by the
/// leader instance only (instances share the spool; one archiver means no task archived twice).
extension Sidecar {
    /// The environment variable of the test hook `retentionTestPause`.
    static let retentionTestPauseVariable = "PIPEBUS_TEST_RETENTION_PAUSE"

    /// Archives the finished tasks past the worker config's limits, counts them, logs problems;
    /// passes follow one another while there is more to move than one pass takes (a spool that
    /// finishes tasks faster than one pass a minute moves never falls behind for good).
    func runRetention() {
        while runRetentionPass(), !state.withLock({ $0.stopping }) {}
    }

    /// One pass; true when more is due at once.
    private func runRetentionPass() -> Bool {
        guard isLeader else { return false }
        let census = state.withLock { $0.watcher }?.census
        let pass = retention.pass(policy: config.retention, count: census.map { census in { census.counts[$0] } })
        for (state, count) in pass.archived where count > 0 {
            metrics.tasksArchived(count, from: state)
            logger.info("archived finished tasks past retention", metadata: ["state": "\(state)", "count": "\(count)", "archive": "\(retention.archive.directory)"])
        }
        if pass.held > 0 {
            logger.info("kept finished tasks past retention while their replay runs", metadata: ["count": "\(pass.held)"])
        }
        for problem in pass.problems { logger.error("retention: \(problem)") }
        return pass.more && pass.problems.isEmpty
    }

    /// A test hook, never set in production: with `PIPEBUS_TEST_RETENTION_PAUSE=<path>`, the
    /// first batch appended to the archive creates `<path>` and the pass then stops for good
    /// before it unlinks the batch's files, so a test can SIGKILL the sidecar exactly there.
    static func retentionTestPause() -> (@Sendable () -> Void)? {
        guard let marker = ProcessInfo.processInfo.environment[retentionTestPauseVariable], !marker.isEmpty else { return nil }
        return {
            _ = FileManager.default.createFile(atPath: marker, contents: Data())
            while true { sleep(3600) }
        }
    }
}
