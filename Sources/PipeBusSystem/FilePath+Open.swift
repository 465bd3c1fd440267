package import SystemPackage

#if canImport(Glibc)
package import Glibc
#endif

extension FilePath {
    /// open(2), EINTR retried; the failure names the path.
    package func open(
        _ mode: FileDescriptor.AccessMode,
        options: FileDescriptor.OpenOptions = [],
        permissions: FilePermissions? = nil
    ) throws -> FileDescriptor {
        try naming("open", path: self) {
            try FileDescriptor.open(self, mode, options: options, permissions: permissions, retryOnInterrupt: true)
        }
    }

    /// lstat(2): what is at the path itself, never following a symlink; nil when nothing is.
    package func lstat() throws -> Stat? {
        do {
            return try stat(followTargetSymlink: false)
        } catch .noSuchFileOrDirectory {
            return nil
        } catch {
            throw SystemCallError("lstat", path: self, errno: error)
        }
    }

    /// access(2) with F_OK: whether anything is at the path (following a symlink).
    package var exists: Bool {
        withPlatformString { access($0, F_OK) == 0 }
    }

    /// Sets the mtime to `time` (the atime is left alone) without following a symlink.
    package func setModificationTime(_ time: timespec) throws {
        // UTIME_OMIT, a macro Swift does not import: ((1l << 30) - 2l).
        var times = [timespec(tv_sec: 0, tv_nsec: (1 << 30) - 2), time]
        _ = try systemCall("utimensat", path: self) {
            withPlatformString { utimensat(AT_FDCWD, $0, &times, AT_SYMLINK_NOFOLLOW) }
        }
    }
}

extension FileDescriptor.OpenOptions {
    /// A file the caller did not create itself: never follow a symlink, never block on a FIFO,
    /// never leak the descriptor into a child (DESIGN §6).
    package static var untrusted: Self { [.noFollow, .nonBlocking, .closeOnExec] }
}
