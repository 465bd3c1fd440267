import Logging
import PipeBusCore
import PipeBusTasks
import PipeBusSystem
import SystemPackage

/// The tasks an instance has leased, one empty file per task in its `leases/` directory, so
/// that when the instance dies another one (or the instance itself, restarted) knows which
/// tasks in the shared `active/` folder were its own and returns exactly those to `pending/`.
///
/// A marker is written before the claim and removed after the task leaves `active/`; a crash
/// between the two leaves a marker whose task is elsewhere, which reaping skips. No fsync: after
/// a power loss the spool's own state is what counts, and a marker lost with it only means a
/// task stays in `active/` for `clear-stuck`.
struct LeaseLedger: Sendable {
    let directory: String

    /// Creates the directory and its parents (0755).
    func prepare() throws {
        try translatingSystemErrors {
            try FilePath(directory).makeDirectories(permissions: [.ownerReadWriteExecute, .groupReadExecute, .otherReadExecute])
        }
    }

    /// Notes that this instance is about to hold `task`.
    func record(_ task: TaskID) {
        let file = try? marker(for: task).open(.writeOnly, options: [.create, .closeOnExec, .noFollow], permissions: .ownerReadWrite)
        file?.closeIgnoringErrors()
    }

    func holds(_ task: TaskID) -> Bool {
        marker(for: task).exists
    }

    /// Notes that this instance no longer holds `task`.
    func forget(_ task: TaskID) {
        marker(for: task).removeIfPresent()
    }

    private func marker(for task: TaskID) -> FilePath {
        FilePath("\(directory)/\(task.rawValue)")
    }

    /// The tasks recorded, valid ids only.
    func tasks() -> [TaskID] {
        let entries = (try? FilePath(directory).entries()) ?? []
        return entries.compactMap { $0.isHidden ? nil : try? TaskID($0.name) }.sorted()
    }

    /// Returns every recorded task still in `active/` to `pending/` and forgets it. Only for a
    /// ledger whose instance is not running (its lock is held by the caller). Each re-queue is
    /// one never-overwriting rename, so however many instances try, a task goes back once.
    ///
    /// `heldElsewhere` guards the one window where a note is wrong: an instance that died
    /// between noting a task and losing the claim to another instance, which holds it now.
    func reap(into spool: TaskSpool, logger: Logger, owner: String, heldElsewhere: (TaskID) -> Bool = { _ in false }) -> Int {
        var requeued = 0
        for task in tasks() {
            if heldElsewhere(task) {
                forget(task)
                continue
            }
            do {
                try spool.transition(task, from: .active, to: .pending)
                requeued += 1
                logger.warning("re-queued a task leased by an instance that is gone", metadata: ["task_id": "\(task)", "instance_of_lease": "\(owner)"])
            } catch let error as RPCError where error.code == .aborted || error.code == .notFound {
                // Finished, or re-queued already by someone else.
            } catch {
                logger.error("could not re-queue a task of a dead instance", metadata: ["task_id": "\(task)", "error": "\(error)"])
                continue
            }
            forget(task)
        }
        return requeued
    }
}
