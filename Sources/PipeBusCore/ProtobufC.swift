internal import CProtobufC

/// Packing and unpacking through protobuf-c, shared by every generated message type.
/// Every raw pointer use of the protobuf-c boundary lives here and in the `+ProtobufC` files.
enum ProtobufC {
    /// Appends the encoding of a generated C message (whose first member is `ProtobufCMessage`).
    static func pack<CMessage>(_ message: inout CMessage, appendingTo buffer: inout [UInt8]) {
        withUnsafePointer(to: &message) { pointer in
            let base = UnsafeRawPointer(pointer).assumingMemoryBound(to: ProtobufCMessage.self)
            let size = protobuf_c_message_get_packed_size(base)
            if size > 4096 {
                // Packed straight into fresh memory: zero-filling a large tail element by element
                // is slow in debug builds (a 4 MiB message took seconds).
                buffer += [UInt8](unsafeUninitializedCapacity: size) { out, count in
                    count = protobuf_c_message_pack(base, out.baseAddress!)
                }
                return
            }
            let start = buffer.count
            buffer.append(contentsOf: repeatElement(0, count: size))
            buffer.withUnsafeMutableBytes { out in
                _ = protobuf_c_message_pack(base, out.baseAddress!.assumingMemoryBound(to: UInt8.self) + start)
            }
        }
    }

    /// Unpacks `body` as the message `descriptor` describes and hands the C struct to `map`,
    /// which must copy out what it keeps; the C message is freed afterwards.
    static func unpack<CMessage, Result>(
        _ body: UnsafeRawBufferPointer,
        name: String,
        unpack: (Int, UnsafePointer<UInt8>) -> UnsafeMutablePointer<CMessage>?,
        free: (UnsafeMutablePointer<CMessage>) -> Void,
        _ map: (CMessage) throws -> Result
    ) throws -> Result {
        var empty: UInt8 = 0
        let unpacked = withUnsafePointer(to: &empty) { emptyPointer in
            unpack(body.count, body.count > 0 ? body.baseAddress!.assumingMemoryBound(to: UInt8.self) : emptyPointer)
        }
        guard let unpacked else {
            throw RPCError(code: .internal, message: "undecodable \(name) (\(body.count) bytes)")
        }
        defer { free(unpacked) }
        return try map(unpacked.pointee)
    }

    static func string(_ pointer: UnsafeMutablePointer<CChar>?) -> String {
        guard let pointer else { return "" }
        return String(cString: pointer)
    }

    static func bytes(_ data: ProtobufCBinaryData) -> [UInt8] {
        guard data.len > 0, let base = data.data else { return [] }
        return Array(UnsafeBufferPointer(start: base, count: data.len))
    }
}

/// C allocations that live until one `pack` is done: strings and entry arrays for metadata.
struct CArena: ~Copyable {
    private var pointers: [UnsafeMutableRawPointer] = []

    mutating func cString(_ string: String) -> UnsafeMutablePointer<CChar> {
        let utf8 = string.utf8CString
        let pointer = UnsafeMutablePointer<CChar>.allocate(capacity: utf8.count)
        utf8.withUnsafeBufferPointer { pointer.initialize(from: $0.baseAddress!, count: utf8.count) }
        pointers.append(UnsafeMutableRawPointer(pointer))
        return pointer
    }

    mutating func bytes(_ bytes: [UInt8]) -> ProtobufCBinaryData {
        guard !bytes.isEmpty else { return ProtobufCBinaryData(len: 0, data: nil) }
        let pointer = UnsafeMutablePointer<UInt8>.allocate(capacity: bytes.count)
        bytes.withUnsafeBufferPointer { pointer.initialize(from: $0.baseAddress!, count: bytes.count) }
        pointers.append(UnsafeMutableRawPointer(pointer))
        return ProtobufCBinaryData(len: bytes.count, data: pointer)
    }

    mutating func allocate<T>(_ type: T.Type, count: Int) -> UnsafeMutablePointer<T> {
        let pointer = UnsafeMutablePointer<T>.allocate(capacity: max(count, 1))
        pointers.append(UnsafeMutableRawPointer(pointer))
        return pointer
    }

    deinit {
        for pointer in pointers { pointer.deallocate() }
    }
}
