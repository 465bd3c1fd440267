package import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

// inotify, which swift-system lacks: the spool watcher's descriptor and its watches.
extension FileDescriptor {
    /// A new inotify descriptor, non-blocking and close-on-exec.
    package static func inotify() throws -> FileDescriptor {
        FileDescriptor(rawValue: try systemCall("inotify_init1") { inotify_init1(Int32(IN_CLOEXEC | IN_NONBLOCK)) })
    }

    /// Watches `path` for `mask`; the watch descriptor. ENOSPC here is the per-user watch limit
    /// (fs.inotify.max_user_watches), not a full disk.
    package func addWatch(_ path: FilePath, mask: UInt32) throws -> Int32 {
        try systemCall("inotify_add_watch", path: path) {
            path.withPlatformString { inotify_add_watch(rawValue, $0, mask) }
        }
    }
}
