import CPipeBusShim
import PipeBusCore
package import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// The network file systems a spool must not live on: inotify does not see other hosts'
/// changes there, and `flock` does not exclude them (DESIGN: one spool per host).
package enum NetworkFileSystem {
    /// The name of the network file system with `statfs`'s magic number `type`, or nil.
    package static func name(forMagic type: Int) -> String? {
        switch UInt32(truncatingIfNeeded: type) {
        case 0x6969: "NFS"
        case 0xFF53_4D42: "CIFS"
        case 0xFE53_4D42: "SMB2"
        case 0x517B: "SMB"
        case 0x0000_564C: "NCP"
        case 0x00C3_6400: "CephFS"
        case 0x0BD0_0BD0: "Lustre"
        case 0x0102_1997: "9P"
        default: nil
        }
    }
}

extension FilePath {
    /// The network file system this path lives on (NFS, CIFS, …), or nil for a local one.
    /// Throws when the path cannot be examined (it does not exist, no permission).
    package func networkFileSystem() throws(SystemCallError) -> String? {
        let type = withPlatformString { pipebus_filesystem_type($0) }
        guard type != -1 else { throw SystemCallError("statfs", path: self, errno: Errno(rawValue: errno)) }
        return NetworkFileSystem.name(forMagic: type)
    }
}
