import PipeBusSystem
import SystemPackage
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Network file systems")
struct NetworkFileSystemTests {
    @Test("statfs magic numbers of network file systems are named; local ones are not")
    func magicNumbers() {
        #expect(NetworkFileSystem.name(forMagic: 0x6969) == "NFS")
        #expect(NetworkFileSystem.name(forMagic: 0xFF53_4D42) == "CIFS")
        #expect(NetworkFileSystem.name(forMagic: 0xFE53_4D42) == "SMB2")
        #expect(NetworkFileSystem.name(forMagic: 0x00C3_6400) == "CephFS")
        // ext4, tmpfs, xfs, btrfs, overlayfs
        for local in [0xEF53, 0x0102_1994, 0x5846_5342, 0x9123_683E, 0x794C_7630] {
            #expect(NetworkFileSystem.name(forMagic: local) == nil, "\(local)")
        }
        // statfs's f_type is a signed long: CIFS's magic arrives sign-extended.
        #expect(NetworkFileSystem.name(forMagic: Int(Int32(bitPattern: 0xFF53_4D42))) == "CIFS")
    }

    @Test("this machine's temporary directory is local; a path that does not exist is an error")
    func examinesRealPaths() throws {
        #expect(try FilePath("/tmp").networkFileSystem() == nil)
        #expect(try FilePath("/proc").networkFileSystem() == nil)
        #expect(throws: SystemCallError.self) { try FilePath("/no/such/path/for/pipebus").networkFileSystem() }
    }
}
