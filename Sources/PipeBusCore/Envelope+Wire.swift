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

    mutating func varint() throws -> UInt64 {
        try Self.varint(in: body, at: &index, messageName: messageName)
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
    mutating func key() throws -> (field: UInt32, wireType: UInt64) {
        let key = try varint()
        let field = UInt32(truncatingIfNeeded: key >> 3)
        if field == 0 { throw RPCError(code: .internal, message: "\(messageName): field number 0 at byte \(index)") }
        let wireType = key & 7
        switch wireType {
        case WireType.varint, WireType.fixed64, WireType.lengthDelimited, WireType.fixed32: return (field, wireType)
        default: throw RPCError(code: .internal, message: "\(messageName): unsupported wire type \(wireType) for field \(field)")
        }
    }

    /// Reads a field's value of `wireType`; a length-delimited value as its bytes, others as
    /// their integer value.
    mutating func value(_ wireType: UInt64, field: UInt32) throws -> (integer: UInt64, bytes: UnsafeRawBufferPointer) {
        switch wireType {
        case WireType.varint:
            return (try varint(), UnsafeRawBufferPointer(start: nil, count: 0))
        case WireType.lengthDelimited:
            let length = try varint()
            guard length <= UInt64(body.count - index) else {
                throw RPCError(code: .internal, message: "\(messageName): field \(field) claims \(length) bytes, \(body.count - index) remain")
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
        guard !bytes.isEmpty else { return "" }
        let end = bytes.firstIndex(of: 0) ?? bytes.count
        return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[0..<end]), as: UTF8.self)
    }
}

extension Envelope {
    /// Decodes an envelope; INTERNAL when undecodable, RESOURCE_EXHAUSTED past the metadata bound.
    public init(serializedBytes body: UnsafeRawBufferPointer) throws {
        self = try Self.decode(body, copyingMessage: true).envelope
    }

    /// Decodes an envelope. Without `copyingMessage`, a message present is not copied into
    /// `envelope.message` (left nil) but returned as `borrowed`, a slice of `body` valid as
    /// long as `body` is: the server hands an inline handler its request this way.
    ///
    /// `knownMethod`: a method name seen before; when the envelope names the same method, that
    /// string is reused rather than a new one allocated (a server sees a few names, over and over).
    static func decode(
        _ body: UnsafeRawBufferPointer,
        copyingMessage: Bool,
        knownMethod: String? = nil
    ) throws -> (envelope: Envelope, borrowed: UnsafeRawBufferPointer?) {
        var reader = WireReader(body, messageName: "envelope")
        var envelope = Envelope(streamID: 0, kind: Kind(rawValue: 0))
        var flags: UInt32 = 0
        var message: UnsafeRawBufferPointer?
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
            case 1: envelope.streamID = UInt32(truncatingIfNeeded: integer)
            case 2: envelope.kind = Kind(rawValue: UInt32(truncatingIfNeeded: integer))
            case 3: flags = UInt32(truncatingIfNeeded: integer)
            case 4:
                if let knownMethod, knownMethod.utf8.count == bytes.count,
                    knownMethod.utf8.withContiguousStorageIfAvailable({ $0.elementsEqual(bytes) }) == true
                {
                    envelope.method = knownMethod
                } else {
                    envelope.method = WireReader.string(bytes)
                }
            case 5:
                do { try Self.decodeMetadataEntry(bytes, into: &envelope.metadata) } catch let error as RPCError { deferred = error }
            case 6: envelope.timeoutMicros = integer
            case 7: message = bytes
            case 8: envelope.status.code = StatusCode(rawValue: UInt32(truncatingIfNeeded: integer))
            case 9: envelope.status.message = WireReader.string(bytes)
            case 10: envelope.pingData = integer
            default:  // 11: a repeated hello replaces the one before, as in protobuf-c 1.4
                var hello = Hello(protocolVersion: 0, maxFrameSize: 0, compression: false, peerName: "", pid: 0)
                do {
                    try hello.merge(bytes)
                    envelope.hello = hello
                } catch let error as RPCError {
                    deferred = error
                }
            }
        }
        if let deferred { throw deferred }
        envelope.endStream = flags & Self.endStreamFlag != 0
        guard flags & Self.hasMessageFlag != 0 else { return (envelope, nil) }
        if copyingMessage {
            envelope.message = message.map { Array($0) } ?? []
            return (envelope, nil)
        }
        return (envelope, message ?? UnsafeRawBufferPointer(start: nil, count: 0))
    }

    private static let hasMessageFlag: UInt32 = 1
    private static let endStreamFlag: UInt32 = 2

    private static func decodeMetadataEntry(_ body: UnsafeRawBufferPointer, into metadata: inout Metadata) throws {
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
        var writer = WireWriter(buffer: [])
        swap(&writer.buffer, &buffer)  // the writer appends to the caller's storage, uncopied
        defer { swap(&writer.buffer, &buffer) }
        writer.varintField(1, UInt64(streamID))
        // An enum is an int32 on the wire: a value above Int32.max is sent sign-extended.
        writer.varintField(2, UInt64(bitPattern: Int64(Int32(bitPattern: kind.rawValue))))
        writer.varintField(3, UInt64((message != nil ? Self.hasMessageFlag : 0) | (endStream ? Self.endStreamFlag : 0)))
        writer.stringField(4, method)
        for entry in metadata.entries {
            let keyCount = entry.key.utf8.count
            let valueCount = entry.value.count
            let size = (keyCount > 0 ? 1 + WireWriter.varintSize(UInt64(keyCount)) + keyCount : 0)
                + (valueCount > 0 ? 1 + WireWriter.varintSize(UInt64(valueCount)) + valueCount : 0)
            writer.key(5, WireType.lengthDelimited)
            writer.varint(UInt64(size))
            writer.stringField(1, entry.key)
            writer.bytesField(2, entry.value)
        }
        writer.varintField(6, timeoutMicros)
        if let message { writer.bytesField(7, message) }
        writer.varintField(8, UInt64(status.code.rawValue))
        writer.stringField(9, status.message)
        writer.varintField(10, pingData)
        if let hello {
            writer.key(11, WireType.lengthDelimited)
            writer.varint(UInt64(hello.encodedSize))
            hello.write(to: &writer)
        }
    }
}

extension Hello {
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
        func varintField(_ value: UInt64) -> Int { value == 0 ? 0 : 1 + WireWriter.varintSize(value) }
        let nameCount = peerName.utf8.count
        return varintField(UInt64(protocolVersion)) + varintField(UInt64(maxFrameSize)) + varintField(compression ? 1 : 0)
            + (nameCount > 0 ? 1 + WireWriter.varintSize(UInt64(nameCount)) + nameCount : 0) + varintField(UInt64(pid))
    }

    fileprivate func write(to writer: inout WireWriter) {
        writer.varintField(1, UInt64(protocolVersion))
        writer.varintField(2, UInt64(maxFrameSize))
        writer.varintField(3, compression ? 1 : 0)
        writer.stringField(4, peerName)
        writer.varintField(5, UInt64(pid))
    }
}

/// Appends protobuf fields to a byte buffer; proto3 defaults (0, empty) are left out.
private struct WireWriter {
    var buffer: [UInt8]

    static func varintSize(_ value: UInt64) -> Int {
        var value = value
        var size = 1
        while value >= 0x80 {
            value >>= 7
            size += 1
        }
        return size
    }

    mutating func varint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            buffer.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        buffer.append(UInt8(value))
    }

    mutating func key(_ field: UInt32, _ wireType: UInt64) {
        varint(UInt64(field) << 3 | wireType)
    }

    mutating func varintField(_ field: UInt32, _ value: UInt64) {
        guard value != 0 else { return }
        key(field, WireType.varint)
        varint(value)
    }

    mutating func bytesField(_ field: UInt32, _ bytes: [UInt8]) {
        guard !bytes.isEmpty else { return }
        key(field, WireType.lengthDelimited)
        varint(UInt64(bytes.count))
        buffer.append(contentsOf: bytes)
    }

    mutating func stringField(_ field: UInt32, _ string: String) {
        let count = string.utf8.count
        guard count > 0 else { return }
        key(field, WireType.lengthDelimited)
        varint(UInt64(count))
        buffer.append(contentsOf: string.utf8)
    }
}
