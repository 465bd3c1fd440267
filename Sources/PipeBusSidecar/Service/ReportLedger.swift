import Logging
import PipeBusCore
import PipeBusTasks
import PipeBusSystem
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// Makes each spool transition reported by exactly one of the sidecar instances sharing a
/// spool: they all see every rename (inotify), and the one that creates the rename's marker
/// file first (`O_CREAT | O_EXCL`) reports it. The marker is named by the kernel's rename
/// cookie, which every watcher on the host sees alike, so all instances name the same move the
/// same way. The instance that made a move claims it at once; the others wait a moment first
/// (see `Sidecar.reportGrace`), so a move is counted by the instance that made it whenever
/// that instance is alive to claim it.
struct ReportLedger: Sendable {
    /// `<root>/workers/<worker>/reported`.
    let directory: String
    let logger: Logger

    func prepare() throws {
        try translatingSystemErrors {
            try FilePath(directory).makeDirectory(permissions: [.ownerReadWriteExecute, .groupReadExecute, .otherReadExecute])
        }
    }

    static func key(cookie: UInt32, task: TaskID, from: TaskState?, to: TaskState) -> String {
        "\(String(cookie, radix: 16))-\(from.map { "\($0)" } ?? "new")-\(to)-\(task.rawValue)"
    }

    /// True if this caller is the one to report the move named `key`. When the marker cannot be
    /// written for another reason than a rival's claim (disk full), it reports: a transition
    /// counted twice is better than one lost.
    func claim(_ key: String) -> Bool {
        let path = FilePath("\(directory)/\(key)")
        do {
            try path.open(.writeOnly, options: [.create, .exclusiveCreate, .closeOnExec, .noFollow], permissions: .ownerReadWrite)
                .closeIgnoringErrors()
            return true
        } catch let error as SystemCallError where error.errno == .fileExists {
            return false
        } catch {
            logger.warning("cannot write a transition report marker; reporting it anyway", metadata: ["key": "\(key)", "error": "\(error)"])
            return true
        }
    }

    /// Removes markers older than `age`: by then every instance has decided.
    func prune(olderThan age: Duration) {
        guard let entries = try? FilePath(directory).entries() else { return }
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let cutoff = now.tv_sec - Int(age.components.seconds)
        for entry in entries where !entry.isHidden {
            let path = FilePath(directory).appending(entry.name)
            if let info = try? path.lstat(), info.st_mtim.tv_sec < cutoff { path.removeIfPresent() }
        }
    }
}
