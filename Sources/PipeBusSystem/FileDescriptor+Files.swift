package import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

// Whole-file reads and writes, sync and checked close: what the spool's durable writer and the
// sidecar's small files need. `path` only names the file in a failure.
extension FileDescriptor {
    /// fstat(2).
    package func stat(path: FilePath?) throws -> Stat {
        do {
            return try stat()
        } catch {
            throw SystemCallError("fstat", path: path, errno: error)
        }
    }

    /// Writes all of `bytes`, EINTR retried. A write that accepts nothing is EIO (a regular file
    /// never does that short of a failing device).
    package func writeAll(_ bytes: [UInt8], path: FilePath?) throws {
        try bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let count = Glibc.write(rawValue, buffer.baseAddress! + offset, buffer.count - offset)
                if count > 0 {
                    offset += count
                    continue
                }
                let errno = count == 0 ? Errno.ioError : Errno.latest
                if errno != .interrupted { throw SystemCallError("write", path: path, errno: errno) }
            }
        }
    }

    /// Reads until end of file or until `limit + 1` bytes, so a caller can tell "too big"
    /// without reading a huge file whole. The buffer starts at `expectedSize` (the size `fstat`
    /// gave) plus one byte, to see the end of file without growing, and grows if the file did.
    /// (It used to be `limit + 1` bytes, zeroed for every file, and the array kept that
    /// capacity: each task read cost 1 MiB mapped and faulted in, and each record held it, so
    /// listing 3,000 tasks took ~3 s of CPU and ~1 GB of RSS.)
    package func readAll(limit: Int, expectedSize: Int = 0, path: FilePath?) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: min(limit + 1, max(expectedSize + 1, 4096)))
        var total = 0
        while true {
            if total == bytes.count {
                if total > limit { break }
                bytes.append(contentsOf: repeatElement(0, count: min(limit + 1, 2 * total) - total))
            }
            let count = bytes.withUnsafeMutableBytes { buffer in
                Glibc.read(rawValue, buffer.baseAddress! + total, buffer.count - total)
            }
            if count > 0 {
                total += count
            } else if count == 0 {
                break
            } else {
                let errno = Errno.latest
                if errno != .interrupted { throw SystemCallError("read", path: path, errno: errno) }
            }
        }
        bytes.removeSubrange(total...)
        return bytes
    }

    /// fsync(2), EINTR retried.
    package func sync(path: FilePath?) throws {
        _ = try systemCall("fsync", path: path) { fsync(rawValue) }
    }

    /// Writes all of `bytes`, fsyncs, and closes: the bytes are on disk when it returns. The
    /// descriptor is closed whatever happens; a failure is thrown, the close's included.
    package func writeAllSyncAndClose(_ bytes: [UInt8], path: FilePath?) throws {
        do {
            try writeAll(bytes, path: path)
            try sync(path: path)
        } catch {
            closeIgnoringErrors()
            throw error
        }
        try closeReportingErrors(path: path)
    }

    /// ftruncate(2), EINTR retried: cuts the file to `size` bytes.
    package func truncate(to size: Int64, path: FilePath?) throws {
        _ = try systemCall("ftruncate", path: path) { ftruncate(rawValue, off_t(size)) }
    }

    /// close(2), reporting a failure: on some file systems a deferred write error surfaces here.
    /// Never retried: on Linux the descriptor is gone either way.
    package func closeReportingErrors(path: FilePath?) throws {
        try naming("close", path: path) { try close() }
    }

    /// close(2) where a failure changes nothing for the caller (a read end, a lock, cleanup).
    package func closeIgnoringErrors() {
        _ = Glibc.close(rawValue)
    }

    /// ftruncate(2) to 0 and pwrite(2) of `bytes` at 0: a file's whole content in place, for a
    /// lock file's owner line (not durable, not atomic: readers of such a line tolerate both).
    package func replaceContents(with bytes: [UInt8]) {
        _ = try? resize(to: 0)
        _ = try? writeAll(toAbsoluteOffset: 0, bytes)
    }

    /// fchmod(2): acts on what was opened, never on whatever a path points to by now.
    package func setPermissions(_ permissions: FilePermissions, path: FilePath?) throws {
        _ = try systemCall("fchmod", path: path) { fchmod(rawValue, permissions.rawValue) }
    }
}
