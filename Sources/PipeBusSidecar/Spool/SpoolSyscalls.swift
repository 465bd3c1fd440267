internal import CPipeBusShim

#if canImport(Glibc)
import Glibc
#endif

/// Every syscall of the spool goes through here: EINTR retried, errno captured at once,
/// failures thrown as `SpoolIOError`. No path is ever followed through a symlink.
enum SpoolSys {
    /// Flags for opening a task file to read: never follow a symlink, never block on a FIFO,
    /// never leak the descriptor into a child (DESIGN §6).
    static let readFlags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC

    static func open(_ path: SpoolPath, _ flags: Int32, mode: mode_t = 0) throws -> Int32 {
        while true {
            let fd = path.withCString { Glibc.open($0, flags, mode) }
            if fd >= 0 { return fd }
            let code = Glibc.errno
            if code != EINTR { throw SpoolIOError(operation: "open", path: path, errno: code) }
        }
    }

    static func close(_ fd: Int32) {
        _ = Glibc.close(fd)  // never retried on Linux: the descriptor is gone either way
    }

    /// close, reporting an error: on some file systems a deferred write error surfaces here.
    static func closeChecked(_ fd: Int32, path: SpoolPath) throws {
        if Glibc.close(fd) != 0 {
            let code = Glibc.errno
            if code != EINTR { throw SpoolIOError(operation: "close", path: path, errno: code) }
        }
    }

    static func writeAll(_ fd: Int32, _ bytes: [UInt8], path: SpoolPath) throws {
        try bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let count = Glibc.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if count > 0 {
                    offset += count
                    continue
                }
                let code = count == 0 ? EIO : Glibc.errno
                if code != EINTR { throw SpoolIOError(operation: "write", path: path, errno: code) }
            }
        }
    }

    /// Reads until end of file or until `limit + 1` bytes, so a caller can tell "too big"
    /// without reading a huge file whole. The buffer starts at `expectedSize` (the size `fstat`
    /// gave) plus one byte, to see the end of file without growing, and grows if the file did.
    /// (It used to be `limit + 1` bytes, zeroed for every file, and the array kept that
    /// capacity: each task read cost 1 MiB mapped and faulted in, and each record held it, so
    /// listing 3,000 tasks took ~3 s of CPU and ~1 GB of RSS.)
    static func read(_ fd: Int32, limit: Int, expectedSize: Int = 0, path: SpoolPath) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: min(limit + 1, max(expectedSize + 1, 4096)))
        var total = 0
        while true {
            if total == bytes.count {
                if total > limit { break }
                bytes.append(contentsOf: repeatElement(0, count: min(limit + 1, 2 * total) - total))
            }
            let count = bytes.withUnsafeMutableBytes { buffer in
                Glibc.read(fd, buffer.baseAddress! + total, buffer.count - total)
            }
            if count > 0 {
                total += count
            } else if count == 0 {
                break
            } else {
                let code = Glibc.errno
                if code != EINTR { throw SpoolIOError(operation: "read", path: path, errno: code) }
            }
        }
        bytes.removeSubrange(total...)
        return bytes
    }

    static func fsync(_ fd: Int32, path: SpoolPath) throws {
        while Glibc.fsync(fd) != 0 {
            let code = Glibc.errno
            if code != EINTR { throw SpoolIOError(operation: "fsync", path: path, errno: code) }
        }
    }

    /// Makes a rename or an unlink in `directory` durable.
    static func fsyncDirectory(_ directory: SpoolPath) throws {
        let fd = try open(directory, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        defer { close(fd) }
        do {
            try fsync(fd, path: directory)
        } catch let error as SpoolIOError where error.errno == EINVAL {
            // A file system that cannot sync a directory has nothing more to make durable.
        }
    }

    static func fstat(_ fd: Int32, path: SpoolPath) throws -> stat {
        var info = stat()
        if Glibc.fstat(fd, &info) != 0 { throw SpoolIOError(operation: "fstat", path: path, errno: Glibc.errno) }
        return info
    }

    /// lstat; nil when nothing is there.
    static func lstat(_ path: SpoolPath) throws -> stat? {
        var info = stat()
        if path.withCString({ Glibc.lstat($0, &info) }) == 0 { return info }
        let code = Glibc.errno
        if code == ENOENT { return nil }
        throw SpoolIOError(operation: "lstat", path: path, errno: code)
    }

    /// mkdir, accepting a directory that is already there.
    static func mkdir(_ path: SpoolPath, mode: mode_t) throws {
        if path.withCString({ Glibc.mkdir($0, mode) }) != 0 {
            let code = Glibc.errno
            if code != EEXIST { throw SpoolIOError(operation: "mkdir", path: path, errno: code) }
        }
    }

    /// rename that fails with EEXIST instead of replacing `to`.
    static func renameNoReplace(_ from: SpoolPath, _ to: SpoolPath) throws {
        while true {
            let result = from.withCString { source in to.withCString { pipebus_rename_noreplace(source, $0) } }
            if result == 0 { return }
            let code = Glibc.errno
            if code != EINTR { throw SpoolIOError(operation: "rename to \(to)", path: from, errno: code) }
        }
    }

    /// Swaps two paths atomically; ENOENT when either is gone, EINVAL where unsupported.
    static func renameExchange(_ first: SpoolPath, _ second: SpoolPath) throws {
        while true {
            let result = first.withCString { a in second.withCString { pipebus_rename_exchange(a, $0) } }
            if result == 0 { return }
            let code = Glibc.errno
            if code != EINTR { throw SpoolIOError(operation: "exchange with \(second)", path: first, errno: code) }
        }
    }

    /// Plain rename, replacing `to`.
    static func rename(_ from: SpoolPath, _ to: SpoolPath) throws {
        while true {
            let result = from.withCString { source in to.withCString { Glibc.rename(source, $0) } }
            if result == 0 { return }
            let code = Glibc.errno
            if code != EINTR { throw SpoolIOError(operation: "rename to \(to)", path: from, errno: code) }
        }
    }

    /// unlink; false when the path was already gone.
    @discardableResult
    static func unlink(_ path: SpoolPath) throws -> Bool {
        if path.withCString({ Glibc.unlink($0) }) == 0 { return true }
        let code = Glibc.errno
        if code == ENOENT { return false }
        throw SpoolIOError(operation: "unlink", path: path, errno: code)
    }

    /// Sets a file's mtime to `time` (its atime is left alone) without following a symlink: the
    /// record of when a task entered its state folder (`TaskSpool.stampMoved`, `stampEntry`).
    static func setModified(_ path: SpoolPath, to time: timespec) throws {
        // UTIME_OMIT, a macro Swift does not import: ((1l << 30) - 2l).
        var times = [timespec(tv_sec: 0, tv_nsec: (1 << 30) - 2), time]
        if path.withCString({ utimensat(AT_FDCWD, $0, &times, AT_SYMLINK_NOFOLLOW) }) != 0 {
            throw SpoolIOError(operation: "utimensat", path: path, errno: Glibc.errno)
        }
    }

    /// One entry of a directory: its name as raw bytes (without NUL) and its `d_type`.
    struct DirectoryEntry {
        var rawName: [CChar]
        var type: UInt8

        var name: String { String(decoding: rawName.map { UInt8(bitPattern: $0) }, as: UTF8.self) }
        var isHidden: Bool { rawName.first == CChar(UInt8(ascii: ".")) }
    }

    /// The entries of `directory`, without `.` and `..`. The directory itself is opened with
    /// O_NOFOLLOW, so a state folder replaced by a symlink is refused rather than listed.
    static func entries(of directory: SpoolPath) throws -> [DirectoryEntry] {
        let fd = try open(directory, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard let stream = fdopendir(fd) else {
            let code = Glibc.errno
            close(fd)
            throw SpoolIOError(operation: "fdopendir", path: directory, errno: code)
        }
        defer { closedir(stream) }
        var result: [DirectoryEntry] = []
        while true {
            Glibc.errno = 0
            guard let entry = readdir(stream) else {
                if Glibc.errno != 0 { throw SpoolIOError(operation: "readdir", path: directory, errno: Glibc.errno) }
                return result
            }
            let rawName = withUnsafePointer(to: entry.pointee.d_name) { tuple in
                tuple.withMemoryRebound(to: CChar.self, capacity: MemoryLayout.size(ofValue: tuple.pointee)) {
                    Array(UnsafeBufferPointer(start: $0, count: strlen($0)))
                }
            }
            if rawName == [46] || rawName == [46, 46] { continue }
            result.append(DirectoryEntry(rawName: rawName, type: entry.pointee.d_type))
        }
    }

    static var processID: Int32 { getpid() }
}
