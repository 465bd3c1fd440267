import PipeBusTasks

#if canImport(Glibc)
import Glibc
#endif
import PipeBusSystem
import SystemPackage

/// Reads one entry of a spool folder without trusting it (DESIGN §6): a symlink is never
/// followed, a FIFO or a device is never opened (so never blocked on), a file is read only up
/// to the size limit, and what was opened is checked with `fstat` to be a regular file.
enum TaskFileReader {
    /// What an entry turned out to be.
    enum Outcome {
        /// A task file: its bytes, its parsed object and its status.
        case task(bytes: [UInt8], object: [String: Any], info: Stat)
        /// Nothing there (it moved on, or never was).
        case missing
        /// Something that must not be treated as a task; `recover()` moves it aside.
        case hostile(HostileEntry.Reason)
    }

    static func read(_ path: FilePath, limit: Int) throws -> Outcome {
        // lstat first so that a FIFO or a device is classified without being opened at all.
        guard let info = try path.lstat() else { return .missing }
        if let reason = HostileEntry.Reason(nonRegular: info) { return .hostile(reason) }
        if info.size > limit { return .hostile(.tooLarge(size: Int(info.size), limit: limit)) }

        let fd: FileDescriptor
        do {
            fd = try path.open(.readOnly, options: .untrusted)
        } catch let error as SystemCallError where error.errno == .noSuchFileOrDirectory {
            return .missing
        } catch let error as SystemCallError where error.errno == .tooManySymbolicLinkLevels {
            return .hostile(.symlink)  // swapped for a symlink since the lstat
        }
        defer { fd.closeIgnoringErrors() }
        // Whatever the path names by now, this is what was opened.
        let opened = try fd.stat(path: path)
        if let reason = HostileEntry.Reason(nonRegular: opened) { return .hostile(reason) }
        let bytes = try fd.readAll(limit: limit, expectedSize: Int(opened.size), path: path)
        if bytes.count > limit { return .hostile(.tooLarge(size: max(bytes.count, Int(opened.size)), limit: limit)) }
        do {
            return .task(bytes: bytes, object: try TaskFile.parseObject(bytes), info: opened)
        } catch .invalidJSON(let detail) {
            return .hostile(.invalidJSON(detail))
        } catch .notAnObject(let type) {
            return .hostile(.notAnObject(type))
        }
    }
}
