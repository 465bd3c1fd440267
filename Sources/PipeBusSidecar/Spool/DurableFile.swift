#if canImport(Glibc)
import Glibc
#endif
import PipeBusSystem
import SystemPackage

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
        ".\(name)\(temporaryMarker)\(getpid())-\(String(UInt32.random(in: .min ... .max), radix: 16))"
    }

    /// Whether a directory entry is one of the spool's temp files.
    static func isTemporary(_ entry: DirectoryEntry) -> Bool {
        entry.isHidden && entry.name.contains(temporaryMarker)
    }

    /// Writes `bytes` durably as `directory/name`. On failure nothing is left behind.
    /// With `syncDirectory` false the rename is not made durable here: the caller syncs the
    /// folder itself (through `GroupCommit`, shared with other writers) before it relies on it.
    static func write(
        _ bytes: [UInt8],
        directory: FilePath,
        name: String,
        placement: Placement,
        syncDirectory: Bool = true
    ) throws {
        let destination = directory.appending(name)
        let temporary = directory.appending(temporaryName(for: name))
        // O_EXCL: never reuse, let alone follow, anything already at the temp name.
        let fd = try temporary.open(.writeOnly, options: [.create, .exclusiveCreate, .noFollow, .closeOnExec], permissions: [.ownerReadWrite, .groupRead, .otherRead])
        do {
            try fd.writeAllSyncAndClose(bytes, path: temporary)
            switch placement {
            case .create:
                try temporary.renameWithoutReplacing(to: destination)
            case .replaceExisting:
                try replace(destination, with: temporary)
            case .overwrite:
                try temporary.rename(to: destination)
            }
        } catch {
            _ = try? temporary.remove()
            throw error
        }
        if syncDirectory { try directory.syncDirectory() }
    }

    /// Swaps the temp file with the destination, then removes the temp name (now the old bytes).
    private static func replace(_ destination: FilePath, with temporary: FilePath) throws {
        do {
            try temporary.exchange(with: destination)
        } catch let error as SystemCallError where error.errno == .invalidArgument || error.errno == .noFunction {
            // The file system cannot exchange: replace only after checking the file is still
            // there, which narrows the race with a concurrent move to a few microseconds.
            guard try destination.lstat() != nil else {
                throw SystemCallError("replace", path: destination, errno: .noSuchFileOrDirectory)
            }
            try temporary.rename(to: destination)
            return
        }
        // The rewrite is in place; a temp name left by a failed unlink is removed by `recover()`.
        _ = try? temporary.remove()
    }
}
