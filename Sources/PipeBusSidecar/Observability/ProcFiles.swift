#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import PipeBusSystem

/// The few system calls `ResourceSampler` needs to read /proc, in one place. /proc files report a
/// size of 0, so they are read until EOF rather than by their stat size.
struct ProcFiles {
    /// `/proc`, or a fixture directory laid out like it in tests.
    let root: String

    /// Reads the whole file into `storage`, a buffer reused from call to call (grown when a file
    /// does not fit), and returns the bytes read as a slice of it; nil when the file cannot be
    /// opened (the process is gone, or the file is hidden from this user, as /proc/<pid>/io of
    /// another user's process is). Reading in place keeps a sample free of per-file allocations.
    func contents(of relativePath: String, into storage: inout [UInt8]) -> ArraySlice<UInt8>? {
        if storage.count < 4096 { storage = [UInt8](repeating: 0, count: 4096) }
        let fd = open(root + "/" + relativePath, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var length = 0
        while true {
            if length == storage.count { storage += [UInt8](repeating: 0, count: storage.count) }
            let count = storage.withUnsafeMutableBytes { read(fd, $0.baseAddress! + length, $0.count - length) }
            if count > 0 {
                length += count
            } else if count < 0 && errno == EINTR {
                continue
            } else {
                return count == 0 ? storage[0..<length] : nil
            }
        }
    }

    /// The numeric entries of the directory: the pids, for /proc.
    func processIDs() -> [Int32] {
        guard let directory = opendir(root) else { return [] }
        defer { closedir(directory) }
        var pids: [Int32] = []
        while let entry = readdir(directory) {
            let name = entry.name
            let raw = UnsafeRawBufferPointer(start: name, count: strlen(name))
            let pid = { () -> Int32? in
                var value: Int32 = 0
                for byte in raw {
                    guard byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") else { return nil }
                    value = value &* 10 &+ Int32(byte - UInt8(ascii: "0"))
                }
                return value > 0 ? value : nil
            }()
            if let pid { pids.append(pid) }
        }
        return pids
    }
}
