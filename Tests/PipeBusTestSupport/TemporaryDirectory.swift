import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A fresh private directory (0700, `mkdtemp`) under /tmp for one test, and its removal.
///
/// Under /tmp rather than `$TMPDIR`: FIFO paths and socket paths must stay short, and a test must
/// not depend on how the machine it runs on sets its environment. `remove()` keeps the directory
/// when `PIPEBUS_KEEP_TEST_ROOTS` is set, to look at a failure.
public final class TemporaryDirectory: Sendable {
    public let path: String

    /// Creates `/tmp/<prefix>-XXXXXX`.
    public init(prefix: String = "pipebus-test") throws {
        var template = Array("/tmp/\(prefix)-XXXXXX".utf8CString)
        guard let created = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw TestSupportError("mkdtemp /tmp/\(prefix)-XXXXXX failed: \(String(cString: strerror(errno)))")
        }
        path = String(cString: created)
    }

    /// The path of `name` inside the directory.
    public func file(_ name: String) -> String { path + "/" + name }

    /// Removes the directory and everything in it, without following symlinks (a test may plant
    /// one that points outside), unless `PIPEBUS_KEEP_TEST_ROOTS` is set.
    public func remove() {
        Self.remove(path)
    }

    /// `remove()` for a directory known by its path only (a root a test passes around as a value).
    public static func remove(_ path: String) {
        if ProcessInfo.processInfo.environment["PIPEBUS_KEEP_TEST_ROOTS"] != nil { return }
        removeTree(path)
    }
}

/// Runs `body` with a fresh temporary directory's path and removes the directory afterwards,
/// whether `body` returns or throws.
@discardableResult
public func withTemporaryDirectory<Result>(
    prefix: String = "pipebus-test",
    _ body: (String) throws -> Result
) throws -> Result {
    let directory = try TemporaryDirectory(prefix: prefix)
    defer { directory.remove() }
    return try body(directory.path)
}

/// `rm -rf`, not following symlinks. Names are kept as bytes (a test may make one that is not
/// UTF-8), and read where `readdir` put them: copying `d_name` whole reads past the end of
/// glibc's buffer for a short last record (AddressSanitizer: heap overflow).
public func removeTree(_ path: String) {
    removeTree(Array(path.utf8CString.dropLast()))
}

private func removeTree(_ path: [CChar]) {
    let terminated = path + [0]
    var info = stat()
    guard lstat(terminated, &info) == 0 else { return }
    guard info.st_mode & S_IFMT == S_IFDIR else {
        unlink(terminated)
        return
    }
    if let dir = opendir(terminated) {
        let nameOffset = MemoryLayout<dirent>.offset(of: \dirent.d_name)!
        var names: [[CChar]] = []
        while let entry = readdir(dir) {
            let name = UnsafeRawPointer(entry).advanced(by: nameOffset).assumingMemoryBound(to: CChar.self)
            let bytes = Array(UnsafeBufferPointer(start: name, count: strlen(name)))
            if bytes != [46] && bytes != [46, 46] { names.append(bytes) }
        }
        closedir(dir)
        for name in names { removeTree(path + [47] + name) }
    }
    rmdir(terminated)
}
