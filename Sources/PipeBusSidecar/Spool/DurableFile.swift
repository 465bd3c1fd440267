#if canImport(Glibc)
import Glibc
#endif

/// The one way the spool writes a file (DESIGN §6): a hidden temp file in the destination
/// folder, fsync, rename into place, fsync the folder. A crash leaves either the old state or
/// the new one, plus at worst a hidden temp file that `recover()` removes.
enum DurableFile {
    /// How the finished temp file takes its place.
    enum Placement {
        /// A new file: fails with EEXIST rather than replace anything.
        case create
        /// A rewrite: replaces the file only if it is still there (ENOENT if it moved away), so a
        /// rewrite racing with a move never brings a task back into a folder it has left.
        case replaceExisting
        /// A file replaced whether or not it exists yet (the heartbeat, the worker config).
        case overwrite
    }

    /// Marks the spool's temp files: hidden (a leading `.`) and not ending in `.json`, so neither
    /// watchers nor the runbook's `glob("*.json")` ever take one for a task.
    static let temporaryMarker = ".tmp-"

    /// `.<name>.tmp-<pid>-<random>`.
    static func temporaryName(for name: String) -> String {
        ".\(name)\(temporaryMarker)\(SpoolSys.processID)-\(String(UInt32.random(in: .min ... .max), radix: 16))"
    }

    /// Whether a directory entry is one of the spool's temp files.
    static func isTemporary(_ entry: SpoolSys.DirectoryEntry) -> Bool {
        entry.isHidden && entry.name.contains(temporaryMarker)
    }

    /// Writes `bytes` durably as `directory/name`. On failure nothing is left behind.
    /// With `syncDirectory` false the rename is not made durable here: the caller syncs the
    /// folder itself (through `GroupCommit`, shared with other writers) before it relies on it.
    static func write(
        _ bytes: [UInt8],
        directory: SpoolPath,
        name: String,
        placement: Placement,
        syncDirectory: Bool = true
    ) throws {
        let destination = directory.appending(name)
        let temporary = directory.appending(temporaryName(for: name))
        // O_EXCL: never reuse, let alone follow, anything already at the temp name.
        let fd = try SpoolSys.open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode: 0o644)
        do {
            do {
                try SpoolSys.writeAll(fd, bytes, path: temporary)
                try SpoolSys.fsync(fd, path: temporary)
            } catch {
                SpoolSys.close(fd)
                throw error
            }
            try SpoolSys.closeChecked(fd, path: temporary)
            switch placement {
            case .create:
                try SpoolSys.renameNoReplace(temporary, destination)
            case .replaceExisting:
                try replace(destination, with: temporary)
            case .overwrite:
                try SpoolSys.rename(temporary, destination)
            }
        } catch {
            _ = try? SpoolSys.unlink(temporary)
            throw error
        }
        if syncDirectory { try SpoolSys.fsyncDirectory(directory) }
    }

    /// Swaps the temp file with the destination, then removes the temp name (now the old bytes).
    private static func replace(_ destination: SpoolPath, with temporary: SpoolPath) throws {
        do {
            try SpoolSys.renameExchange(temporary, destination)
        } catch let error as SpoolIOError where error.errno == EINVAL || error.errno == ENOSYS {
            // The file system cannot exchange: replace only after checking the file is still
            // there, which narrows the race with a concurrent move to a few microseconds.
            guard try SpoolSys.lstat(destination) != nil else {
                throw SpoolIOError(operation: "replace", path: destination, errno: ENOENT)
            }
            try SpoolSys.rename(temporary, destination)
            return
        }
        // The rewrite is in place; a temp name left by a failed unlink is removed by `recover()`.
        _ = try? SpoolSys.unlink(temporary)
    }
}
