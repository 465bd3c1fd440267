import Logging
import PipeBusCore

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
        if mkdir(directory, 0o755) != 0 && errno != EEXIST {
            throw RPCError(code: .unavailable, message: "cannot create \(directory): \(String(cString: strerror(errno)))")
        }
    }

    static func key(cookie: UInt32, task: TaskID, from: TaskState?, to: TaskState) -> String {
        "\(String(cookie, radix: 16))-\(from.map { "\($0)" } ?? "new")-\(to)-\(task.rawValue)"
    }

    /// True if this caller is the one to report the move named `key`. When the marker cannot be
    /// written for another reason than a rival's claim (disk full), it reports: a transition
    /// counted twice is better than one lost.
    func claim(_ key: String) -> Bool {
        let fd = open("\(directory)/\(key)", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        if fd >= 0 {
            close(fd)
            return true
        }
        if errno == EEXIST { return false }
        logger.warning("cannot write a transition report marker; reporting it anyway", metadata: ["key": "\(key)", "errno": "\(errno)"])
        return true
    }

    /// Removes markers older than `age`: by then every instance has decided.
    func prune(olderThan age: Duration) {
        guard let handle = opendir(directory) else { return }
        defer { closedir(handle) }
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let cutoff = now.tv_sec - Int(age.components.seconds)
        while let entry = readdir(handle) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard name.first != "." else { continue }
            let path = "\(directory)/\(name)"
            var info = stat()
            if lstat(path, &info) == 0, info.st_mtim.tv_sec < cutoff { unlink(path) }
        }
    }
}
