import PipeBusTasks

#if canImport(Glibc)
import Glibc
#endif
import SystemPackage

/// The latest task files a spool object wrote itself (a submit, a move, a rewrite), each with
/// the record built from what was written and the identity of the file it became. The sidecar's
/// watcher reports each of those writes a moment later: while the file at the path is still that
/// file (same inode, size and mtime), it is known to be a task and the record is its content, so
/// the watcher neither reads nor parses it again. A file changed since (written in place, swapped
/// by someone else) no longer matches and is read as any other.
///
/// Bounded: at most `capacity` entries, the oldest dropped first, so a watcher lagging further
/// behind reads the files, as it did before.
struct OwnWrites {
    private struct Key: Hashable {
        var id: TaskID
        var state: TaskState
    }

    struct Written {
        var record: TaskRecord
        var inode: UInt64
        var size: Int64
        var modified: timespec

        init(record: TaskRecord, info: Stat) {
            self.record = record
            self.inode = UInt64(info.inode.rawValue)
            self.size = Int64(info.size)
            self.modified = info.st_mtim
        }

        /// Whether `info` is this very file, unchanged since it was written.
        func matches(_ info: Stat) -> Bool {
            UInt64(info.inode.rawValue) == inode && Int64(info.size) == size
                && info.st_mtim.tv_sec == modified.tv_sec && info.st_mtim.tv_nsec == modified.tv_nsec
        }
    }

    let capacity: Int
    private var entries: [Key: Written] = [:]
    /// Keys in the order they were first written; `next` is the oldest once the ring is full.
    private var ring: [Key] = []
    private var next = 0

    init(capacity: Int = 1024) {
        precondition(capacity > 0)
        self.capacity = capacity
    }

    var count: Int { entries.count }

    mutating func note(_ written: Written) {
        let key = Key(id: written.record.id, state: written.record.state)
        if entries.updateValue(written, forKey: key) != nil { return }
        if ring.count < capacity {
            ring.append(key)
            return
        }
        entries[ring[next]] = nil
        ring[next] = key
        next = (next + 1) % capacity
    }

    func written(_ id: TaskID, in state: TaskState) -> Written? {
        entries[Key(id: id, state: state)]
    }
}
