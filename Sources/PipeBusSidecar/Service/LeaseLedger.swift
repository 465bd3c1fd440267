import Logging
import PipeBusCore

#if canImport(Glibc)
import Glibc
#endif

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
        var partial = ""
        for component in directory.split(separator: "/", omittingEmptySubsequences: true) {
            partial += "/" + component
            if mkdir(partial, 0o755) != 0 && errno != EEXIST {
                let code = errno
                throw RPCError(code: code == ENOSPC ? .resourceExhausted : .unavailable, message: "cannot create \(partial): \(String(cString: strerror(code)))")
            }
        }
    }

    /// Notes that this instance is about to hold `task`.
    func record(_ task: TaskID) {
        let fd = open("\(directory)/\(task.rawValue)", O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        if fd >= 0 { close(fd) }
    }

    func holds(_ task: TaskID) -> Bool {
        access("\(directory)/\(task.rawValue)", F_OK) == 0
    }

    /// Notes that this instance no longer holds `task`.
    func forget(_ task: TaskID) {
        unlink("\(directory)/\(task.rawValue)")
    }

    /// The tasks recorded, valid ids only.
    func tasks() -> [TaskID] {
        guard let handle = opendir(directory) else { return [] }
        defer { closedir(handle) }
        var tasks: [TaskID] = []
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name.first != ".", let id = try? TaskID(name) { tasks.append(id) }
        }
        return tasks.sorted()
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
