public import CPipeBusProto
internal import CProtobufC

/// Packing and unpacking through protobuf-c, shared by every generated message type: the runtime
/// of the code protoc-gen-pipebus makes (tools/protoc-gen-pipebus). Every raw pointer use of the
/// protobuf-c boundary lives here and in that generated code.
public enum ProtobufC {
    /// Appends the encoding of a generated C message (whose first member is `ProtobufCMessage`).
    public static func pack<CMessage>(_ message: inout CMessage, appendingTo buffer: inout [UInt8]) {
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
    public static func unpack<CMessage, Result>(
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

    public static func string(_ pointer: UnsafeMutablePointer<CChar>?) -> String {
        guard let pointer else { return "" }
        return String(cString: pointer)
    }

    public static func bytes(_ data: ProtobufCBinaryData) -> [UInt8] {
        guard data.len > 0, let base = data.data else { return [] }
        return Array(UnsafeBufferPointer(start: base, count: data.len))
    }

    /// A repeated string field (`char **` and its count).
    public static func strings(_ pointers: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?, count: Int) -> [String] {
        guard let pointers else { return [] }
        return (0..<count).map { string(pointers[$0]) }
    }

    /// A repeated bytes field.
    public static func binaryData(_ elements: UnsafeMutablePointer<ProtobufCBinaryData>?, count: Int) -> [[UInt8]] {
        guard let elements else { return [] }
        return (0..<count).map { bytes(elements[$0]) }
    }

    /// A repeated number, bool or enum field.
    public static func array<Element>(_ elements: UnsafeMutablePointer<Element>?, count: Int) -> [Element] {
        guard let elements, count > 0 else { return [] }
        return Array(UnsafeBufferPointer(start: elements, count: count))
    }
}

/// C allocations that live until one `pack` is done: the strings, bytes, arrays and submessages a
/// message's protobuf-c struct points to.
public struct CArena: ~Copyable {
    private var pointers: [UnsafeMutableRawPointer] = []

    public init() {}

    public mutating func cString(_ string: String) -> UnsafeMutablePointer<CChar> {
        let utf8 = string.utf8CString
        let pointer = UnsafeMutablePointer<CChar>.allocate(capacity: utf8.count)
        utf8.withUnsafeBufferPointer { pointer.initialize(from: $0.baseAddress!, count: utf8.count) }
        pointers.append(UnsafeMutableRawPointer(pointer))
        return pointer
    }

    public mutating func bytes(_ bytes: [UInt8]) -> ProtobufCBinaryData {
        guard !bytes.isEmpty else { return ProtobufCBinaryData(len: 0, data: nil) }
        let pointer = UnsafeMutablePointer<UInt8>.allocate(capacity: bytes.count)
        bytes.withUnsafeBufferPointer { pointer.initialize(from: $0.baseAddress!, count: bytes.count) }
        pointers.append(UnsafeMutableRawPointer(pointer))
        return ProtobufCBinaryData(len: bytes.count, data: pointer)
    }

    public mutating func allocate<T>(_ type: T.Type, count: Int) -> UnsafeMutablePointer<T> {
        let pointer = UnsafeMutablePointer<T>.allocate(capacity: max(count, 1))
        pointers.append(UnsafeMutableRawPointer(pointer))
        return pointer
    }

    /// A repeated string field's `char **`.
    public mutating func cStrings(_ strings: [String]) -> UnsafeMutablePointer<UnsafeMutablePointer<CChar>?> {
        let pointers = allocate(UnsafeMutablePointer<CChar>?.self, count: strings.count)
        for (index, string) in strings.enumerated() { (pointers + index).initialize(to: cString(string)) }
        return pointers
    }

    /// A repeated bytes field's elements.
    public mutating func binaryData(_ elements: [[UInt8]]) -> UnsafeMutablePointer<ProtobufCBinaryData> {
        let pointer = allocate(ProtobufCBinaryData.self, count: elements.count)
        for (index, element) in elements.enumerated() { (pointer + index).initialize(to: bytes(element)) }
        return pointer
    }

    /// A repeated number, bool or enum field's elements.
    public mutating func array<Element>(_ elements: [Element]) -> UnsafeMutablePointer<Element> {
        let pointer = allocate(Element.self, count: elements.count)
        elements.withUnsafeBufferPointer { if let base = $0.baseAddress { pointer.initialize(from: base, count: $0.count) } }
        return pointer
    }

    deinit {
        for pointer in pointers { pointer.deallocate() }
    }
}
