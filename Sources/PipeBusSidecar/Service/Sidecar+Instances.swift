import Foundation
import PipeBusCore
import PipeBusPipes

/// What makes several instances of one worker safe to run side by side (a worker scaled out):
/// one leader for the worker-wide figures, dead instances' leases returned once, and each
/// spool move reported by exactly one instance.
extension Sidecar {
    /// The leader exports `task_queue_depth` and `active_tasks` (the others export 0, so a sum
    /// over instances is the worker's figure) and reports tasks written straight into
    /// `pending/`. Leadership is a `flock` the kernel drops when its holder dies; the others
    /// try for it at every tick.
    func takeLeadershipIfFree() {
        guard state.withLock({ $0.leaderLock == nil && !$0.stopping }) else { return }
        do {
            guard let lock = try FileLock.acquire(RootLayout(root: configuration.root).leaderLockPath(worker: configuration.worker)) else { return }
            state.withLock { $0.leaderLock = lock }
            logger.info("this instance now leads the worker's instances", metadata: ["instance": "\(configuration.instance)"])
        } catch {
            logger.warning("cannot try for the worker's leader lock", metadata: ["error": "\(error)"])
        }
    }

    func otherInstancesServing() -> Bool {
        paths.instances().contains { $0 != configuration.instance && paths.pipeDirectory(instance: $0).isServing }
    }

    /// Returns to `pending/` the tasks leased by instances that are no longer running. The dead
    /// instance's lock is taken for the duration, so one survivor reaps it, and each task's
    /// re-queue is itself a never-overwriting rename.
    func reapDeadInstances() {
        let instances = paths.instances()
        for instance in instances where instance != configuration.instance {
            let ledger = LeaseLedger(directory: paths.leaseDirectory(instance: instance))
            guard !ledger.tasks().isEmpty, !paths.pipeDirectory(instance: instance).isServing else { continue }
            guard let lock = try? FileLock.acquire(paths.lockPath(instance: instance)) else { continue }
            defer { lock.release() }
            let others = instances.filter { $0 != instance }.map { LeaseLedger(directory: paths.leaseDirectory(instance: $0)) }
            let requeued = ledger.reap(into: spool, logger: logger, owner: instance) { task in
                others.contains { $0.holds(task) }
            }
            if requeued > 0 {
                logger.warning("re-queued the leases of an instance that is gone", metadata: ["instance_of_lease": "\(instance)", "count": "\(requeued)"])
            }
        }
    }

    // MARK: Reporting each move once

    /// Called by the spool just before this instance renames something.
    func noteOwnMove(_ move: TaskSpool.SpoolMove) {
        let now = ContinuousClock.now
        state.withLock { state in
            state.ownMoves[move] = now
            // A rename that failed is never seen by the watcher: forget notes after a while.
            // Not at every move past a fixed size: a watcher a few seconds behind a busy spool
            // holds thousands of fresh notes, and filtering them all at each move took a fifth
            // of the sidecar's CPU (issue 18's profile). The bound doubles with what is kept.
            if state.ownMoves.count > state.ownMovesPruneAt {
                state.ownMoves = state.ownMoves.filter { now - $0.value < .seconds(30) }
                state.ownMovesPruneAt = max(4096, 2 * state.ownMoves.count)
            }
        }
    }

    /// Reports the move named by `cookie` once across all instances: at once when this
    /// instance made it (or is the only instance), else after `reportGrace` if its maker did not.
    func reportOnce(_ move: TaskSpool.SpoolMove, cookie: UInt32, emit: @escaping @Sendable () -> Void) {
        let key = ReportLedger.key(cookie: cookie, task: move.id, from: move.from, to: move.to)
        let now = ContinuousClock.now
        let (mine, alone) = state.withLock { state in
            (state.ownMoves.removeValue(forKey: move) != nil, !state.othersServing)
        }
        if mine || alone {
            if reports.claim(key) { emit() }
            return
        }
        state.withLock { $0.deferredReports.append(DeferredReport(due: now + Self.reportGrace, key: key, emit: emit)) }
        deferredReportAdded.yield()
    }

    /// Reports each deferred move when it falls due, until none is left; `run` calls it when
    /// one is added. Cancelled at shutdown, which reports what is left (`flushDeferredReports`).
    func reportDeferredMoves() async {
        while true {
            let (due, next) = state.withLock { state -> ([DeferredReport], ContinuousClock.Instant?) in
                let now = ContinuousClock.now
                let split = state.deferredReports.firstIndex { $0.due > now } ?? state.deferredReports.endIndex
                let due = Array(state.deferredReports[..<split])
                state.deferredReports.removeFirst(split)
                return (due, state.deferredReports.first?.due)
            }
            if !due.isEmpty {
                // A claim is a file created in the shared ledger: not on the cooperative pool.
                await OSThread.run("pipebus-report") { for report in due where self.reports.claim(report.key) { report.emit() } }
            }
            guard let next else { return }
            do {
                try await Task.sleep(until: next, clock: .continuous)
            } catch {
                return
            }
        }
    }

    /// At shutdown: decide every waiting report now rather than drop it.
    func flushDeferredReports() {
        let waiting = state.withLock { state in
            defer { state.deferredReports.removeAll() }
            return state.deferredReports
        }
        for report in waiting where reports.claim(report.key) { report.emit() }
    }
}
