import Foundation
import PipeBusCore
public import PipeBusTasks

#if canImport(Glibc)
import Glibc
#endif
import PipeBusSystem
import SystemPackage

/// A task's age in its state (DESIGN §2): measured from the moment it entered its state
/// folder (`SpoolClock.enteredState`), which the file's mtime records once stamped.
extension TaskSpool {
    /// A rename seen less than this long after the file's last write is not stamped: the mtime
    /// is close enough, and a stamp changes the ctime, so a second instance seeing the same
    /// move would otherwise stamp the first one's stamp.
    static let stampSlack: TimeInterval = 1

    /// How long `record` has been in its state folder, by this spool's clock.
    public func timeInState(_ record: TaskRecord) -> Duration {
        SpoolClock.age(of: record.enteredState, now: configuration.clock())
    }

    /// Records on the file of task `id` in `state` when it entered that folder, for a move this
    /// spool did not make (a spool worker's rename, a file moved in by hand): its mtime is set
    /// to its ctime, which the rename set. The mtime is then what the runbook's snippets read
    /// as the task's age, and it survives restarts. Files this spool moves or creates are
    /// stamped as it does so. Returns true if the file was stamped.
    ///
    /// Nothing happens when the ctime is not clearly later than the mtime (the file was
    /// written, not moved, or was stamped already), or when the task has moved on.
    @discardableResult
    public func stampEntry(_ id: TaskID, in state: TaskState) throws -> Bool {
        try translatingSystemErrors(subject: "spool") {
            let path = layout.filePath(id, state)
            guard let info = try path.lstat(), info.type == .regular else { return false }
            let moved = SpoolClock.date(info.st_ctim)
            guard moved.timeIntervalSince(SpoolClock.date(info.st_mtim)) > Self.stampSlack else { return false }
            do {
                try path.setModificationTime(info.st_ctim)
            } catch let error as SystemCallError where error.errno == .noSuchFileOrDirectory {
                return false  // moved on meanwhile; its next folder is stamped in turn
            }
            return true
        }
    }

    /// Stamps a file this spool has just moved or created with the time it entered its folder.
    /// A failure is logged, not thrown: the move itself is done, and the task's age is still
    /// never overstated (the ctime bounds it).
    func stampMoved(_ id: TaskID, at path: FilePath) {
        do {
            try path.setModificationTime(SpoolClock.timespec(configuration.clock()))
        } catch let error as SystemCallError where error.errno == .noSuchFileOrDirectory {
            return  // claimed or moved on already: its next folder stamps it
        } catch {
            logger.warning("could not stamp a moved task's mtime", metadata: ["task_id": "\(id)", "error": "\(error)"])
        }
    }

    /// A task is in one state folder. A worker that writes its outcome as a new file (rather
    /// than renaming `active/X`) can still put task `id` into `completed/` and `failed/` at once,
    /// for example after `clear-stuck` moved it to `failed/` while it ran. The copy that arrived
    /// second, `arrivedIn`, is the one moved aside to `.quarantine/` (kept for inspection,
    /// logged as an error): the first outcome stands, as it does when `clear-stuck` and the
    /// worker race to rename the same file. Returns the copy moved aside, if any.
    @discardableResult
    public func resolveDuplicateOutcome(_ id: TaskID, arrivedIn: TaskState) throws -> HostileEntry? {
        guard arrivedIn == .completed || arrivedIn == .failed else { return nil }
        let other: TaskState = arrivedIn == .completed ? .failed : .completed
        return try translatingSystemErrors(subject: "spool") {
            guard try layout.filePath(id, other).lstat() != nil,
                try layout.filePath(id, arrivedIn).lstat() != nil
            else { return nil }
            let entry = quarantine(
                layout.filePath(id, arrivedIn),
                rawName: Array(id.fileName.utf8).map { CChar(bitPattern: $0) },
                state: arrivedIn,
                reason: .duplicateOutcome(keptIn: other)
            )
            guard entry.quarantinedPath != nil else { return nil }
            logger.error(
                "task \(id) was in completed/ and failed/ at once; the later copy was moved aside",
                metadata: [
                    "task_id": "\(id)", "kept": "\(other)", "moved_aside": "\(arrivedIn)",
                    "moved_to": "\(entry.quarantinedPath ?? "")",
                ]
            )
            return entry
        }
    }
}

extension SpoolClock {
    /// A date as a file time.
    static func timespec(_ date: Date) -> Glibc.timespec {
        let nanoseconds = Int64((date.timeIntervalSince1970 * 1e9).rounded(.down))
        return Glibc.timespec(tv_sec: Int(nanoseconds / 1_000_000_000), tv_nsec: Int(nanoseconds % 1_000_000_000))
    }
}
