import Foundation
import PipeBusCore
import PipeBusTasks

/// What the sidecar does with each file that arrives in a state folder, whoever put it there:
/// stamps when the task entered the folder, moves aside what is not a task, and keeps a task
/// in one state folder.
extension Sidecar {
    /// A task file `id` just arrived in `state` (a rename, a file moved in, a file written).
    func inspectArrival(_ id: TaskID, in state: TaskState) {
        // A file this sidecar wrote and stamped itself, unchanged since: a task, stamped already.
        if spool.ownRecord(id, in: state) == nil {
            do {
                // First: the watcher's delay is the only time the mtime says something else.
                try spool.stampEntry(id, in: state)
            } catch {
                logger.warning("could not stamp the time a task entered its state folder", metadata: ["task_id": "\(id)", "state": "\(state)", "error": "\(error)"])
            }
            checkEntry(id.fileName, in: state)
        }
        do {
            try spool.resolveDuplicateOutcome(id, arrivedIn: state)
        } catch {
            logger.error("task is in completed/ and failed/ at once, and could not be resolved", metadata: ["task_id": "\(id)", "error": "\(error)"])
        }
    }

    /// Moves entry `name` of `state` aside if it is not a task file (`TaskSpool.checkEntry`);
    /// one that does not parse yet and is still fresh is checked again at the next ticks.
    func checkEntry(_ name: String, in state: TaskState) {
        let key = UnreadableEntry(name: name, state: state)
        do {
            switch try spool.checkEntry(named: name, in: state) {
            case .unreadableForNow:
                self.state.withLock { _ = $0.unreadableEntries.insert(key) }
            case .taskOrGone, .quarantined:
                // The spool logs what it quarantines, once.
                self.state.withLock { _ = $0.unreadableEntries.remove(key) }
            }
        } catch {
            logger.error("could not check a spool entry", metadata: ["name": "\(name)", "state": "\(state)", "error": "\(error)"])
        }
    }

    /// At each tick: entries that did not parse when they arrived are checked again.
    func recheckUnreadableEntries() {
        let entries = state.withLock { $0.unreadableEntries }
        for entry in entries { checkEntry(entry.name, in: entry.state) }
    }

    /// Checks every entry of `states` that is not a task file: after lost inotify events, or
    /// when the heartbeat finds entries in `active/` that are not tasks.
    func sweepUnreadableEntries(in states: [TaskState]) {
        for state in states {
            do {
                for name in try spool.entriesNotTasks(in: state) { checkEntry(name, in: state) }
            } catch {
                logger.error("could not list a spool folder", metadata: ["state": "\(state)", "error": "\(error)"])
            }
        }
    }

    /// An entry of a state folder that is not readable as a task yet.
    struct UnreadableEntry: Hashable, Sendable {
        var name: String
        var state: TaskState
    }
}
