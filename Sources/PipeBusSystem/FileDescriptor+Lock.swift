internal import CPipeBusShim
package import SystemPackage

extension FileDescriptor {
    /// An exclusive advisory lock (flock), without waiting; false when another open file
    /// description holds it. The kernel drops it when the holder dies, however it dies.
    package func tryLock(path: FilePath?) throws -> Bool {
        while true {
            if pipebus_try_lock(rawValue) == 0 { return true }
            let errno = Errno.latest
            if errno == .wouldBlock { return false }
            if errno != .interrupted { throw SystemCallError("flock", path: path, errno: errno) }
        }
    }
}
