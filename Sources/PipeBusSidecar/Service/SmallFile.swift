#if canImport(Glibc)
import Glibc
#endif
import PipeBusCore
import PipeBusSystem
import SystemPackage

/// The sidecar's own small files (the heartbeat, the worker config): written through the
/// spool's one durable writer (`DurableFile`: temp file, fsync, rename, fsync the directory),
/// so readers see the old or the new content, never a torn one.
enum SmallFile {
    static func replace(_ path: String, with bytes: [UInt8]) throws {
        let slash = path.lastIndex(of: "/") ?? path.startIndex
        let directory = FilePath(String(path[..<slash]))
        let name = String(path[path.index(after: slash)...])
        try translatingSystemErrors(subject: "spool") {
            try DurableFile.write(bytes, directory: directory, name: name, placement: .overwrite)
        }
    }

    /// Removes the temp files `replace` left beside `path` when its writer died mid-write
    /// (`.<name>.tmp-<pid>-<random>`, the pid neither this process nor a live one); returns
    /// their names. A SIGKILLed sidecar leaves one behind now and then, and nothing else would
    /// ever remove it.
    static func removeLeftoverTemporaries(of path: String) -> [String] {
        let file = FilePath(path)
        let directory = file.removingLastComponent()
        let prefix = ".\(file.lastComponent.map { "\($0)" } ?? "").tmp-"
        var removed: [String] = []
        for entry in (try? directory.entries()) ?? [] where entry.name.hasPrefix(prefix) {
            let entryName = entry.name
            guard let pid = pid_t(entryName.dropFirst(prefix.count).prefix { $0 != "-" }), pid != getpid() else { continue }
            if kill(pid, 0) == 0 || Errno.latest == .notPermitted { continue }  // its writer may still be at work
            if (try? directory.appending(entryName).remove()) == true { removed.append(entryName) }
        }
        return removed
    }

    /// Reads a small regular file (never following a symlink, never blocking on a FIFO); nil
    /// when there is none.
    static func read(_ path: String, limit: Int = 1 << 20) throws -> [UInt8]? {
        let file = FilePath(path)
        return try translatingSystemErrors {
            let fd: FileDescriptor
            do {
                fd = try file.open(.readOnly, options: .untrusted)
            } catch let error as SystemCallError where error.errno == .noSuchFileOrDirectory {
                return nil
            }
            defer { fd.closeIgnoringErrors() }
            let info = try fd.stat(path: file)
            guard info.type == .regular else {
                throw RPCError(code: .failedPrecondition, message: "\(path) is not a regular file")
            }
            guard info.size <= limit else {
                throw RPCError(code: .resourceExhausted, message: "\(path) is \(info.size) bytes, over the \(limit)-byte limit")
            }
            return try fd.readAll(limit: limit, expectedSize: Int(info.size), path: file)
        }
    }
}
