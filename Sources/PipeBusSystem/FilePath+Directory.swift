import PipeBusCore
package import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// One entry of a directory: its name as raw bytes (without NUL) and its `d_type`.
///
/// The name stays bytes: anyone can drop a file into a spool folder, and a name that is not
/// UTF-8, repaired into a `String`, would name a file that does not exist.
package struct DirectoryEntry: Sendable {
    package var rawName: [CChar]
    package var type: UInt8

    package init(rawName: [CChar], type: UInt8) {
        self.rawName = rawName
        self.type = type
    }

    package var name: String { String(decoding: rawName.map { UInt8(bitPattern: $0) }, as: UTF8.self) }
    package var isHidden: Bool { rawName.first == CChar(UInt8(ascii: ".")) }
}

extension FilePath {
    /// `self/name`, `name` being one component as raw bytes (without NUL): a directory entry's
    /// name, kept as the kernel gave it, so that a name that is not UTF-8 can still be moved or
    /// removed.
    ///
    /// Joined as bytes, not through `FilePath.Component(platformString:)`: that parses the name
    /// as a whole path and checks its component view, and `appending` checks the result again,
    /// which in a debug build was two thirds of a sidecar's start-up CPU (it runs for every
    /// entry of every folder listed): 5,000 task files took 23 s to answer, now 5 s.
    package func appending(rawName: [CChar]) -> FilePath {
        let slash = CChar(UInt8(ascii: "/"))
        guard !rawName.isEmpty, !rawName.contains(slash), !rawName.contains(0) else {
            preconditionFailure("not one path component: \(NameRule.escaped(String(decoding: rawName.map { UInt8(bitPattern: $0) }, as: UTF8.self), quoted: true))")
        }
        var bytes = withPlatformString { Array(UnsafeBufferPointer(start: $0, count: strlen($0))) }
        if !bytes.isEmpty && bytes.last != slash { bytes.append(slash) }
        bytes += rawName
        bytes.append(0)
        return bytes.withUnsafeBufferPointer { FilePath(platformString: $0.baseAddress!) }
    }

    /// The entries of the directory, without `.` and `..`. The directory itself is opened with
    /// O_NOFOLLOW, so a directory replaced by a symlink is refused rather than listed.
    package func entries() throws -> [DirectoryEntry] {
        let fd = try open(.readOnly, options: [.directory, .noFollow, .closeOnExec])
        guard let stream = fdopendir(fd.rawValue) else {
            let errno = Errno.latest
            try? fd.close()
            throw SystemCallError("fdopendir", path: self, errno: errno)
        }
        defer { closedir(stream) }
        var result: [DirectoryEntry] = []
        while true {
            Glibc.errno = 0
            guard let entry = readdir(stream) else {
                if Glibc.errno != 0 { throw SystemCallError("readdir", path: self, errno: .latest) }
                return result
            }
            let name = entry.name
            let rawName = Array(UnsafeBufferPointer(start: name, count: strlen(name)))
            if rawName == [46] || rawName == [46, 46] { continue }
            result.append(DirectoryEntry(rawName: rawName, type: entry.pointee.d_type))
        }
    }

    /// Makes a rename or an unlink in this directory durable (fsync of the directory).
    package func syncDirectory() throws {
        let fd = try open(.readOnly, options: [.directory, .noFollow, .closeOnExec])
        defer { try? fd.close() }
        do {
            try fd.sync(path: self)
        } catch let error as SystemCallError where error.errno == .invalidArgument {
            // A file system that cannot sync a directory has nothing more to make durable.
        }
    }
}

extension UnsafeMutablePointer<dirent> {
    /// The entry's NUL-terminated name, where `readdir` put it. Not `pointee.d_name`: that copies
    /// the whole 256-byte array, and a record near the end of glibc's buffer is shorter than
    /// that (`d_reclen`), so the copy reads past the buffer (AddressSanitizer: heap overflow).
    package var name: UnsafePointer<CChar> {
        UnsafeRawPointer(self)
            .advanced(by: MemoryLayout<dirent>.offset(of: \dirent.d_name)!)
            .assumingMemoryBound(to: CChar.self)
    }
}
