#if canImport(Glibc)
import Glibc
#endif

/// One `struct inotify_event` as read from an inotify descriptor.
struct InotifyRecord: Hashable, Sendable {
    var watch: Int32
    var mask: UInt32
    var cookie: UInt32
    /// The entry's name within the watched folder, as raw bytes; empty for events on the folder.
    var rawName: [UInt8]

    /// `wd`, `mask`, `cookie`, `len`: four 32-bit fields before the NUL-padded name.
    static let headerSize = 16

    var name: String { String(decoding: rawName, as: UTF8.self) }

    func has(_ flag: Int32) -> Bool { mask & UInt32(bitPattern: flag) != 0 }

    /// Splits what one `read` returned into records. The kernel writes only whole records; a
    /// truncated tail (which it never produces) is dropped rather than read past.
    static func parse(_ buffer: UnsafeRawBufferPointer) -> [InotifyRecord] {
        var records: [InotifyRecord] = []
        var offset = 0
        while buffer.count - offset >= headerSize {
            let watch = buffer.loadUnaligned(fromByteOffset: offset, as: Int32.self)
            let mask = buffer.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self)
            let cookie = buffer.loadUnaligned(fromByteOffset: offset + 8, as: UInt32.self)
            let length = Int(buffer.loadUnaligned(fromByteOffset: offset + 12, as: UInt32.self))
            let nameStart = offset + headerSize
            guard length <= buffer.count - nameStart else { break }
            let nameBytes = buffer[nameStart..<(nameStart + length)]
            let rawName = Array(nameBytes.prefix { $0 != 0 })
            records.append(InotifyRecord(watch: watch, mask: mask, cookie: cookie, rawName: rawName))
            offset = nameStart + length
        }
        return records
    }
}
