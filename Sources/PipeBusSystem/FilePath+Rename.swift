internal import CPipeBusShim
package import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

extension FilePath {
    /// rename(2), replacing `destination`.
    package func rename(to destination: FilePath) throws {
        _ = try systemCall("rename to \(destination.printable)", path: self) {
            withPlatformString { source in destination.withPlatformString { Glibc.rename(source, $0) } }
        }
    }

    /// rename that fails with EEXIST instead of replacing `destination` (renameat2's
    /// RENAME_NOREPLACE, through the shim).
    package func renameWithoutReplacing(to destination: FilePath) throws {
        _ = try systemCall("rename to \(destination.printable)", path: self) {
            withPlatformString { source in destination.withPlatformString { pipebus_rename_noreplace(source, $0) } }
        }
    }

    /// Swaps two paths atomically (RENAME_EXCHANGE); ENOENT when either is gone, EINVAL where
    /// the file system cannot.
    package func exchange(with other: FilePath) throws {
        _ = try systemCall("exchange with \(other.printable)", path: self) {
            withPlatformString { first in other.withPlatformString { pipebus_rename_exchange(first, $0) } }
        }
    }

    /// unlink(2); false when the path was already gone.
    @discardableResult
    package func remove() throws -> Bool {
        if withPlatformString({ unlink($0) }) == 0 { return true }
        let errno = Errno.latest
        if errno == .noSuchFileOrDirectory { return false }
        throw SystemCallError("unlink", path: self, errno: errno)
    }

    /// unlink(2) where failing does not matter (the path already gone, a cleanup).
    package func removeIfPresent() {
        _ = withPlatformString { unlink($0) }
    }
}
