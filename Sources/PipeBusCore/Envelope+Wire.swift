#if canImport(Glibc)
import Glibc
#endif

// The envelope's protobuf encoding, written and read directly (proto/pipebus/v1/envelope.proto).
//
// Every call crosses this twice per side, and protobuf-c cost it a malloc per field on unpack,
// a copy of each into Swift values, a free pass, and a scan of the body beforehand for the
// metadata bound. This reads the body once, with no allocation but the values it returns, and
// answers as the protobuf-c path did: a malformed top level is INTERNAL at once, more than
// `maxMetadataEntries` entries RESOURCE_EXHAUSTED, and what protobuf-c alone would have
// rejected (a bad submessage, a known field with the wrong wire type) INTERNAL after the
// whole top level has been checked. The protobuf-c mapping stays for the other messages.

/// Field numbers and wire types of `pipebus.v1.Envelope`, `MetadataEntry` and `Hello`.
private enum WireType {
    static let varint: UInt64 = 0
    static let fixed64: UInt64 = 1
    static let lengthDelimited: UInt64 = 2
    static let fixed32: UInt64 = 5
}

/// Reads protobuf fields from a body, bounds-checked.
struct WireReader {
    private let body: UnsafeRawBufferPointer
    private let messageName: String
    private(set) var index = 0

    init(_ body: UnsafeRawBufferPointer, messageName: String) {
        self.body = body
        self.messageName = messageName
    }

    var isAtEnd: Bool { index >= body.count }

    @inline(__always)
    mutating func varint() throws -> UInt64 {
        // Most varints on the hot path (keys, kinds, flags, small lengths) are one byte.
        if index < body.count, body[index] < 0x80 {
            index += 1
            return UInt64(body[index - 1])
        }
        return try Self.varint(in: body, at: &index, messageName: messageName)
    }

    /// The varint at `index` in `body`, moving `index` past it; INTERNAL when truncated or
    /// longer than 10 bytes. Shared with `WireScan`.
    static func varint(in body: UnsafeRawBufferPointer, at index: inout Int, messageName: String) throws -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while index < body.count {
            let byte = body[index]
            index += 1
            if shift < 64 { result |= UInt64(byte & 0x7F) << shift }
            if byte & 0x80 == 0 { return result }
            shift += 7
            if shift > 63 { break }
        }
        throw RPCError(code: .internal, message: "\(messageName): truncated or overlong varint at byte \(index)")
    }

    /// The next field's number and wire type (0, 1, 2 or 5; anything else is INTERNAL).
    @inline(__always)
    mutating func key() throws -> (field: UInt32, wireType: UInt64) {
        let key = try varint()
        let field = UInt32(truncatingIfNeeded: key >> 3)
        if field == 0 { throw RPCError(code: .internal, message: "\(messageName): field number 0 at byte \(index)") }
        let wireType = key & 7
        switch wireType {
        case WireType.varint, WireType.fixed64, WireType.lengthDelimited, WireType.fixed32: return (field, wireType)
        default:
            throw RPCError(
                code: .internal,
                message: "\(messageName): unsupported wire type \(wireType) for field \(field)"
            )
        }
    }

    /// Reads a field's value of `wireType`; a length-delimited value as its bytes, others as
    /// their integer value.
    @inline(__always)
    mutating func value(_ wireType: UInt64, field: UInt32) throws -> (integer: UInt64, bytes: UnsafeRawBufferPointer) {
        switch wireType {
        case WireType.varint:
            return (try varint(), UnsafeRawBufferPointer(start: nil, count: 0))
        case WireType.lengthDelimited:
            let length = try varint()
            guard length <= UInt64(body.count - index) else {
                throw RPCError(
                    code: .internal,
                    message: "\(messageName): field \(field) claims \(length) bytes, \(body.count - index) remain"
                )
            }
            let start = index
            index += Int(length)
            return (0, UnsafeRawBufferPointer(rebasing: body[start..<index]))
        default:
            let size = wireType == WireType.fixed64 ? 8 : 4
            guard size <= body.count - index else {
                throw RPCError(code: .internal, message: "\(messageName): field \(field) runs past the end of the body")
            }
            var value: UInt64 = 0
            for offset in 0..<size { value |= UInt64(body[index + offset]) << (8 * UInt64(offset)) }
            index += size
            return (value, UnsafeRawBufferPointer(start: nil, count: 0))
        }
    }

    /// What protobuf-c would refuse: a known field sent with another wire type.
    func wrongWireType(_ wireType: UInt64, field: UInt32) -> RPCError {
        RPCError(code: .internal, message: "undecodable \(messageName): field \(field) has wire type \(wireType)")
    }

    /// A string as protobuf-c hands it to Swift: up to the first NUL, invalid UTF-8 repaired.
    static func string(_ bytes: UnsafeRawBufferPointer) -> String {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return "" }
        let end = memchr(base, 0, bytes.count).map { base.distance(to: UnsafeRawPointer($0)) } ?? bytes.count
        return String(decoding: UnsafeRawBufferPointer(start: base, count: end), as: UTF8.self)
    }
}

/// An envelope's fields as they lie in a frame body: its byte fields are slices of the body,
/// valid only while it is. The hot paths (a server's OPEN, a client's CLOSE) act on these
/// without building an `Envelope`; everything else builds one from them.
///
/// Plain values only (no references), so that handing it around copies no reference counts:
/// metadata and the handshake, which allocate, are checked while reading but built on demand.
struct EnvelopeFields {
    /// The whole body, for the metadata entries scattered in it.
    var body: UnsafeRawBufferPointer
    var streamID: UInt32 = 0
    var kind: UInt32 = 0
    var flags: UInt32 = 0
    var method = UnsafeRawBufferPointer(start: nil, count: 0)
    var metadataCount = 0
    var timeoutMicros: UInt64 = 0
    /// The message field's bytes, if the field was sent (see `hasMessage`).
    var messageField: UnsafeRawBufferPointer?
    var statusCode: UInt32 = 0
    var statusMessage = UnsafeRawBufferPointer(start: nil, count: 0)
    var pingData: UInt64 = 0
    /// The last handshake field (a repeated one replaces the one before, as in protobuf-c 1.4).
    var helloField: UnsafeRawBufferPointer?

    init(body: UnsafeRawBufferPointer) { self.body = body }

    var hasMessage: Bool { flags & Envelope.hasMessageFlag != 0 }
    var endStream: Bool { flags & Envelope.endStreamFlag != 0 }
    /// The message when `hasMessage` (empty if its field was left out), else nil.
    var message: UnsafeRawBufferPointer? {
        hasMessage ? (messageField ?? UnsafeRawBufferPointer(start: nil, count: 0)) : nil
    }
    /// Nothing but what a plain reply or request carries: no metadata, status text or handshake.
    var isPlain: Bool { metadataCount == 0 && statusMessage.isEmpty && helloField == nil }

    /// The metadata entries, in order (already checked by `Envelope.fields(of:)`).
    var metadata: Metadata {
        var metadata = Metadata()
        guard metadataCount > 0 else { return metadata }
        var reader = WireReader(body, messageName: "envelope")
        while !reader.isAtEnd {
            guard let (field, wireType) = try? reader.key(), let (_, bytes) = try? reader.value(wireType, field: field) else { break }
            if field == 5 && wireType == WireType.lengthDelimited { try? Envelope.decodeMetadataEntry(bytes, into: &metadata) }
        }
        return metadata
    }

    /// The handshake, if one was sent (already checked).
    var hello: Hello? {
        guard let helloField else { return nil }
        var hello = Hello(protocolVersion: 0, maxFrameSize: 0, compression: false, peerName: "", pid: 0)
        try? hello.merge(helloField)
        return hello
    }

    /// The method as a string, reusing `known` when the bytes are its name.
    func methodName(known: String?) -> String {
        if let known, Envelope.sameBytes(known, method) { return known }
        return WireReader.string(method)
    }

    /// The envelope these fields make. Without `copyingMessage` the message is left out (nil;
    /// the caller reads it from `message`, a slice of the body). `knownMethod`: a name seen
    /// before, reused rather than a new string allocated when the envelope names it.
    func envelope(copyingMessage: Bool, knownMethod: String? = nil) -> Envelope {
        Envelope(
            streamID: streamID,
            kind: Envelope.Kind(rawValue: kind),
            endStream: endStream,
            method: method.isEmpty ? "" : methodName(known: knownMethod),
            metadata: metadata,
            timeoutMicros: timeoutMicros,
            message: copyingMessage ? message.map { Array($0) } : nil,
            status: Status(code: StatusCode(rawValue: statusCode), message: WireReader.string(statusMessage)),
            pingData: pingData,
            hello: hello
        )
    }
}

extension Envelope {
    /// Decodes an envelope; INTERNAL when undecodable, RESOURCE_EXHAUSTED past the metadata bound.
    public init(serializedBytes body: UnsafeRawBufferPointer) throws {
        self = try Self.fields(of: body).envelope(copyingMessage: true)
    }

    /// Reads an envelope's fields, checking them as protobuf-c's unpack would (see the top of
    /// this file); INTERNAL when undecodable, RESOURCE_EXHAUSTED past the metadata bound.
    @inline(__always)
    static func fields(of body: UnsafeRawBufferPointer) throws -> EnvelopeFields {
        var reader = WireReader(body, messageName: "envelope")
        var fields = EnvelopeFields(body: body)
        var metadataCount = 0
        // What protobuf-c's unpack would refuse, reported once the whole top level passed.
        var deferred: RPCError?
        while !reader.isAtEnd {
            let (field, wireType) = try reader.key()
            let (integer, bytes) = try reader.value(wireType, field: field)
            let expected: UInt64
            switch field {
            case 4, 5, 7, 9, 11: expected = WireType.lengthDelimited
            case 1, 2, 3, 6, 8, 10: expected = WireType.varint
            default: continue  // unknown: skipped
            }
            if field == 5 {
                metadataCount += 1
                if metadataCount > maxMetadataEntries {
                    throw RPCError(code: .resourceExhausted, message: "envelope: more than \(maxMetadataEntries) repeated entries")
                }
            }
            guard wireType == expected else {
                deferred = deferred ?? reader.wrongWireType(wireType, field: field)
                continue
            }
            if deferred != nil { continue }
            switch field {
            case 1: fields.streamID = UInt32(truncatingIfNeeded: integer)
            case 2: fields.kind = UInt32(truncatingIfNeeded: integer)
            case 3: fields.flags = UInt32(truncatingIfNeeded: integer)
            case 4: fields.method = bytes
            case 5:
                do { try Self.checkMetadataEntry(bytes) } catch let error as RPCError { deferred = error }
                fields.metadataCount += 1
            case 6: fields.timeoutMicros = integer
            case 7: fields.messageField = bytes
            case 8: fields.statusCode = UInt32(truncatingIfNeeded: integer)
            case 9: fields.statusMessage = bytes
            case 10: fields.pingData = integer
            default:  // 11: a repeated hello replaces the one before, as in protobuf-c 1.4
                do {
                    try Hello.check(bytes)
                    fields.helloField = bytes
                } catch let error as RPCError {
                    deferred = error
                }
            }
        }
        if let deferred { throw deferred }
        return fields
    }

    /// Whether `string`'s UTF-8 is exactly `bytes` (one `memcmp`: this runs on every call).
    static func sameBytes(_ string: String, _ bytes: UnsafeRawBufferPointer) -> Bool {
        var string = string
        return string.withUTF8 { utf8 in
            utf8.count == bytes.count
                && (utf8.isEmpty || memcmp(utf8.baseAddress!, bytes.baseAddress!, utf8.count) == 0)
        }
    }

    static let hasMessageFlag: UInt32 = 1
    static let endStreamFlag: UInt32 = 2

    /// What `decodeMetadataEntry` refuses, without building the entry.
    private static func checkMetadataEntry(_ body: UnsafeRawBufferPointer) throws {
        var reader = WireReader(body, messageName: "envelope metadata entry")
        while !reader.isAtEnd {
            let (field, wireType) = try reader.key()
            _ = try reader.value(wireType, field: field)
            guard field == 1 || field == 2 else { continue }
            guard wireType == WireType.lengthDelimited else { throw reader.wrongWireType(wireType, field: field) }
        }
    }

    fileprivate static func decodeMetadataEntry(_ body: UnsafeRawBufferPointer, into metadata: inout Metadata) throws {
        var reader = WireReader(body, messageName: "envelope metadata entry")
        var key: UnsafeRawBufferPointer?
        var value: UnsafeRawBufferPointer?
        while !reader.isAtEnd {
            let (field, wireType) = try reader.key()
            let (_, bytes) = try reader.value(wireType, field: field)
            guard field == 1 || field == 2 else { continue }
            guard wireType == WireType.lengthDelimited else { throw reader.wrongWireType(wireType, field: field) }
            if field == 1 { key = bytes } else { value = bytes }
        }
        metadata.add(key.map(WireReader.string) ?? "", bytes: value.map { Array($0) } ?? [])
    }

    /// Appends the envelope's protobuf encoding to `buffer` (fields in number order, defaults
    /// left out, as protobuf-c packs them).
    public func serialize(into buffer: inout [UInt8]) {
        Self.serialize(
            streamID: streamID,
            kind: kind,
            endStream: endStream,
            method: method,
            metadata: metadata,
            timeoutMicros: timeoutMicros,
            message: message,
            status: status,
            pingData: pingData,
            hello: hello,
            into: &buffer
        )
    }

    /// Appends the encoding of an envelope with these fields, without making one: the hot paths
    /// (a client's OPEN, a server's unary CLOSE) name only the fields they set.
    ///
    /// The size is worked out first, the buffer grown once, and the fields written through a
    /// pointer: appending byte by byte checked the array's capacity and uniqueness each time.
    static func serialize(
        streamID: UInt32,
        kind: Kind,
        endStream: Bool = false,
        method: String = "",
        metadata: Metadata = Metadata(),
        timeoutMicros: UInt64 = 0,
        message: [UInt8]? = nil,
        status: Status = Status(code: .ok),
        pingData: UInt64 = 0,
        hello: Hello? = nil,
        into buffer: inout [UInt8]
    ) {
        var method = method
        var statusMessage = status.message
        let methodCount = method.utf8.count
        let statusMessageCount = statusMessage.utf8.count
        // An enum is an int32 on the wire: a value above Int32.max is sent sign-extended.
        let kindValue = UInt64(bitPattern: Int64(Int32(bitPattern: kind.rawValue)))
        let flags = UInt64((message != nil ? Self.hasMessageFlag : 0) | (endStream ? Self.endStreamFlag : 0))
        let messageCount = message?.count ?? 0
        var size =
            UnsafeWireWriter.varintFieldSize(UInt64(streamID)) + UnsafeWireWriter.varintFieldSize(kindValue)
            + UnsafeWireWriter.varintFieldSize(flags) + UnsafeWireWriter.bytesFieldSize(methodCount)
            + UnsafeWireWriter.varintFieldSize(timeoutMicros) + UnsafeWireWriter.bytesFieldSize(messageCount)
            + UnsafeWireWriter.varintFieldSize(UInt64(status.code.rawValue))
            + UnsafeWireWriter.bytesFieldSize(statusMessageCount) + UnsafeWireWriter.varintFieldSize(pingData)
        for entry in metadata.entries {
            let entrySize = entry.encodedSize
            size += 1 + UnsafeWireWriter.varintSize(UInt64(entrySize)) + entrySize
        }
        let helloSize = hello?.encodedSize ?? 0
        if hello != nil { size += 1 + UnsafeWireWriter.varintSize(UInt64(helloSize)) + helloSize }

        let start = buffer.count
        guard let message, messageCount > Self.messageCopiedSeparately else {
            // Small: one grown region, every byte written through the pointer.
            buffer.appendZeros(size)
            buffer.withUnsafeMutableBufferPointer { all in
                var writer = UnsafeWireWriter(all.baseAddress! + start)
                writer.head(streamID: streamID, kind: kindValue, flags: flags, method: &method, metadata: metadata, timeoutMicros: timeoutMicros)
                message?.withUnsafeBytes { writer.bytesField(7, $0) }
                writer.tail(code: status.code.rawValue, statusMessage: &statusMessage, pingData: pingData, hello: hello, helloSize: helloSize)
                assert(writer.pointer == all.baseAddress! + start + size, "envelope size worked out wrong")
            }
            return
        }
        // Large: the message is appended as it is, not over zeros (one pass over its bytes).
        let tailSize = UnsafeWireWriter.varintFieldSize(UInt64(status.code.rawValue))
            + UnsafeWireWriter.bytesFieldSize(statusMessageCount) + UnsafeWireWriter.varintFieldSize(pingData)
            + (hello != nil ? 1 + UnsafeWireWriter.varintSize(UInt64(helloSize)) + helloSize : 0)
        let headSize = size - messageCount - tailSize
        buffer.appendZeros(headSize)
        buffer.withUnsafeMutableBufferPointer { all in
            var writer = UnsafeWireWriter(all.baseAddress! + start)
            writer.head(streamID: streamID, kind: kindValue, flags: flags, method: &method, metadata: metadata, timeoutMicros: timeoutMicros)
            writer.key(7, WireType.lengthDelimited)
            writer.varint(UInt64(messageCount))
            assert(writer.pointer == all.baseAddress! + start + headSize, "envelope head size worked out wrong")
        }
        buffer.append(contentsOf: message)
        let tailStart = buffer.count
        buffer.appendZeros(tailSize)
        buffer.withUnsafeMutableBufferPointer { all in
            var writer = UnsafeWireWriter(all.baseAddress! + tailStart)
            writer.tail(code: status.code.rawValue, statusMessage: &statusMessage, pingData: pingData, hello: hello, helloSize: helloSize)
            assert(writer.pointer == all.baseAddress! + tailStart + tailSize, "envelope tail size worked out wrong")
        }
    }

    /// Messages larger than this are appended to an encoding as they are rather than over
    /// zeros written first.
    private static let messageCopiedSeparately = 512
}

extension Metadata.Entry {
    /// The size of its `MetadataEntry` encoding.
    fileprivate var encodedSize: Int {
        UnsafeWireWriter.bytesFieldSize(key.utf8.count) + UnsafeWireWriter.bytesFieldSize(value.count)
    }
}

extension Hello {
    /// What `merge` refuses, without building a handshake.
    fileprivate static func check(_ body: UnsafeRawBufferPointer) throws {
        var reader = WireReader(body, messageName: "envelope hello")
        while !reader.isAtEnd {
            let (field, wireType) = try reader.key()
            _ = try reader.value(wireType, field: field)
            guard (1...5).contains(field) else { continue }
            let expected = field == 4 ? WireType.lengthDelimited : WireType.varint
            guard wireType == expected else { throw reader.wrongWireType(wireType, field: field) }
        }
    }

    /// Applies the fields of an encoded `Hello` over this one.
    fileprivate mutating func merge(_ body: UnsafeRawBufferPointer) throws {
        var reader = WireReader(body, messageName: "envelope hello")
        while !reader.isAtEnd {
            let (field, wireType) = try reader.key()
            let (integer, bytes) = try reader.value(wireType, field: field)
            guard (1...5).contains(field) else { continue }
            let expected = field == 4 ? WireType.lengthDelimited : WireType.varint
            guard wireType == expected else { throw reader.wrongWireType(wireType, field: field) }
            switch field {
            case 1: protocolVersion = UInt32(truncatingIfNeeded: integer)
            case 2: maxFrameSize = UInt32(truncatingIfNeeded: integer)
            case 3: compression = integer != 0
            case 4: peerName = WireReader.string(bytes)
            default: pid = UInt32(truncatingIfNeeded: integer)
            }
        }
    }

    fileprivate var encodedSize: Int {
        UnsafeWireWriter.varintFieldSize(UInt64(protocolVersion))
            + UnsafeWireWriter.varintFieldSize(UInt64(maxFrameSize))
            + UnsafeWireWriter.varintFieldSize(compression ? 1 : 0)
            + UnsafeWireWriter.bytesFieldSize(peerName.utf8.count)
            + UnsafeWireWriter.varintFieldSize(UInt64(pid))
    }

    fileprivate func write(to writer: inout UnsafeWireWriter) {
        writer.varintField(1, UInt64(protocolVersion))
        writer.varintField(2, UInt64(maxFrameSize))
        writer.varintField(3, compression ? 1 : 0)
        var name = peerName
        name.withUTF8 { writer.bytesField(4, UnsafeRawBufferPointer($0)) }
        writer.varintField(5, UInt64(pid))
    }
}

/// Writes protobuf fields into memory the caller sized (field numbers below 16, so every key is
/// one byte); proto3 defaults (0, empty) are left out.
private struct UnsafeWireWriter {
    private(set) var pointer: UnsafeMutablePointer<UInt8>

    init(_ pointer: UnsafeMutablePointer<UInt8>) { self.pointer = pointer }

    static func varintSize(_ value: UInt64) -> Int {
        var value = value
        var size = 1
        while value >= 0x80 {
            value >>= 7
            size += 1
        }
        return size
    }

    static func varintFieldSize(_ value: UInt64) -> Int { value == 0 ? 0 : 1 + varintSize(value) }

    static func bytesFieldSize(_ count: Int) -> Int { count == 0 ? 0 : 1 + varintSize(UInt64(count)) + count }

    mutating func varint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            pointer.pointee = UInt8(truncatingIfNeeded: value) | 0x80
            pointer += 1
            value >>= 7
        }
        pointer.pointee = UInt8(value)
        pointer += 1
    }

    mutating func key(_ field: UInt32, _ wireType: UInt64) {
        varint(UInt64(field) << 3 | wireType)
    }

    mutating func varintField(_ field: UInt32, _ value: UInt64) {
        guard value != 0 else { return }
        key(field, WireType.varint)
        varint(value)
    }

    mutating func bytesField(_ field: UInt32, _ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        key(field, WireType.lengthDelimited)
        varint(UInt64(bytes.count))
        UnsafeMutableRawPointer(pointer).copyMemory(from: base, byteCount: bytes.count)
        pointer += bytes.count
    }
}

extension UnsafeWireWriter {
    /// An envelope's fields before its message (1 to 6).
    @inline(__always)
    fileprivate mutating func head(
        streamID: UInt32,
        kind: UInt64,
        flags: UInt64,
        method: inout String,
        metadata: Metadata,
        timeoutMicros: UInt64
    ) {
        varintField(1, UInt64(streamID))
        varintField(2, kind)
        varintField(3, flags)
        method.withUTF8 { bytesField(4, UnsafeRawBufferPointer($0)) }
        for entry in metadata.entries {
            key(5, WireType.lengthDelimited)
            varint(UInt64(entry.encodedSize))
            var entryKey = entry.key
            entryKey.withUTF8 { bytesField(1, UnsafeRawBufferPointer($0)) }
            entry.value.withUnsafeBytes { bytesField(2, $0) }
        }
        varintField(6, timeoutMicros)
    }

    /// An envelope's fields after its message (8 to 11).
    @inline(__always)
    fileprivate mutating func tail(code: UInt32, statusMessage: inout String, pingData: UInt64, hello: Hello?, helloSize: Int) {
        varintField(8, UInt64(code))
        statusMessage.withUTF8 { bytesField(9, UnsafeRawBufferPointer($0)) }
        varintField(10, pingData)
        if let hello {
            key(11, WireType.lengthDelimited)
            varint(UInt64(helloSize))
            hello.write(to: &self)
        }
    }
}
