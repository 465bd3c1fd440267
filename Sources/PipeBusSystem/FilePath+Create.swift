package import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

extension FilePath {
    /// mkdir(2), accepting a directory (or anything) already there.
    package func makeDirectory(permissions: FilePermissions) throws {
        let result = withPlatformString { mkdir($0, permissions.rawValue) }
        if result != 0, Errno.latest != .fileExists {
            throw SystemCallError("mkdir", path: self, errno: .latest)
        }
    }

    /// Creates the directory and its missing parents: the last one with `permissions`, the
    /// parents 0755.
    package func makeDirectories(permissions: FilePermissions) throws {
        var partial = FilePath(root: root)
        for component in components {
            partial.append(component)
            try partial.makeDirectory(permissions: partial == self ? permissions : [.ownerReadWriteExecute, .groupReadExecute, .otherReadExecute])
        }
    }

    /// mkfifo(3).
    package func makeFIFO(permissions: FilePermissions) throws {
        _ = try systemCall("mkfifo", path: self) { withPlatformString { mkfifo($0, permissions.rawValue) } }
    }
}
