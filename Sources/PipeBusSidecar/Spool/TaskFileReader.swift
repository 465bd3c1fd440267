import PipeBusTasks

#if canImport(Glibc)
import Glibc
#endif

/// Reads one entry of a spool folder without trusting it (DESIGN §6): a symlink is never
/// followed, a FIFO or a device is never opened (so never blocked on), a file is read only up
/// to the size limit, and what was opened is checked with `fstat` to be a regular file.
enum TaskFileReader {
    /// What an entry turned out to be.
    enum Outcome {
        /// A task file: its bytes, its parsed object and its status.
        case task(bytes: [UInt8], object: [String: Any], info: stat)
        /// Nothing there (it moved on, or never was).
        case missing
        /// Something that must not be treated as a task; `recover()` moves it aside.
        case hostile(HostileEntry.Reason)
    }

    static func read(_ path: SpoolPath, limit: Int) throws -> Outcome {
        // lstat first so that a FIFO or a device is classified without being opened at all.
        guard let info = try SpoolSys.lstat(path) else { return .missing }
        if let reason = HostileEntry.Reason(nonRegular: info) { return .hostile(reason) }
        if Int(info.st_size) > limit { return .hostile(.tooLarge(size: Int(info.st_size), limit: limit)) }

        let fd: Int32
        do {
            fd = try SpoolSys.open(path, SpoolSys.readFlags)
        } catch let error as SpoolIOError where error.errno == ENOENT {
            return .missing
        } catch let error as SpoolIOError where error.errno == ELOOP {
            return .hostile(.symlink)  // swapped for a symlink since the lstat
        }
        defer { SpoolSys.close(fd) }
        // Whatever the path names by now, this is what was opened.
        let opened = try SpoolSys.fstat(fd, path: path)
        if let reason = HostileEntry.Reason(nonRegular: opened) { return .hostile(reason) }
        let bytes = try SpoolSys.read(fd, limit: limit, expectedSize: Int(opened.st_size), path: path)
        if bytes.count > limit { return .hostile(.tooLarge(size: max(bytes.count, Int(opened.st_size)), limit: limit)) }
        do {
            return .task(bytes: bytes, object: try TaskFile.parseObject(bytes), info: opened)
        } catch .invalidJSON(let detail) {
            return .hostile(.invalidJSON(detail))
        } catch .notAnObject(let type) {
            return .hostile(.notAnObject(type))
        }
    }
}
