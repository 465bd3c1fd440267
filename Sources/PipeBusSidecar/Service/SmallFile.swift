#if canImport(Glibc)
import Glibc
#endif
import PipeBusCore

/// The sidecar's own small files (the heartbeat, the worker config): written through the
/// spool's one durable writer (`DurableFile`: temp file, fsync, rename, fsync the directory),
/// so readers see the old or the new content, never a torn one.
enum SmallFile {
    static func replace(_ path: String, with bytes: [UInt8]) throws {
        let slash = path.lastIndex(of: "/") ?? path.startIndex
        let directory = SpoolPath(String(path[..<slash]))
        let name = String(path[path.index(after: slash)...])
        try translatingSpoolErrors {
            try DurableFile.write(bytes, directory: directory, name: name, placement: .overwrite)
        }
    }

    /// Removes the temp files `replace` left beside `path` when its writer died mid-write
    /// (`.<name>.tmp-<pid>-<random>`, the pid neither this process nor a live one); returns
    /// their names. A SIGKILLed sidecar leaves one behind now and then, and nothing else would
    /// ever remove it.
    static func removeLeftoverTemporaries(of path: String) -> [String] {
        let directory = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)])
        let name = String(path[(path.index(after: path.lastIndex(of: "/") ?? path.startIndex))...])
        let prefix = ".\(name).tmp-"
        guard let stream = opendir(directory) else { return [] }
        var names: [String] = []
        while let entry = readdir(stream) {
            let entryName = withUnsafeBytes(of: entry.pointee.d_name) { bytes in
                String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
            }
            if entryName.hasPrefix(prefix) { names.append(entryName) }
        }
        closedir(stream)
        var removed: [String] = []
        for entryName in names {
            guard let pid = pid_t(entryName.dropFirst(prefix.count).prefix { $0 != "-" }), pid != getpid() else { continue }
            if kill(pid, 0) == 0 || errno == EPERM { continue }  // its writer may still be at work
            if unlink("\(directory)/\(entryName)") == 0 { removed.append(entryName) }
        }
        return removed
    }

    /// Reads a small regular file (never following a symlink, never blocking on a FIFO).
    static func read(_ path: String, limit: Int = 1 << 20) throws -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw error("open", path)
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
            throw RPCError(code: .failedPrecondition, message: "\(path) is not a regular file")
        }
        guard Int(info.st_size) <= limit else {
            throw RPCError(code: .resourceExhausted, message: "\(path) is \(info.st_size) bytes, over the \(limit)-byte limit")
        }
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
        var offset = 0
        while offset < bytes.count {
            let count = bytes.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + offset, $0.count - offset) }
            if count < 0 {
                if errno == EINTR { continue }
                throw error("read", path)
            }
            if count == 0 { break }
            offset += count
        }
        return Array(bytes[0..<offset])
    }

    private static func error(_ operation: String, _ path: String) -> RPCError {
        let code = errno
        let status: StatusCode = (code == ENOSPC || code == EDQUOT) ? .resourceExhausted : .unavailable
        return RPCError(code: status, message: "\(operation) \(path): \(String(cString: strerror(code)))", cause: "errno \(code)")
    }
}
