/// A message that travels as the payload of a call: it knows its own protobuf encoding.
///
/// Service messages (health, tasks) conform through protobuf-c; `[UInt8]` conforms as raw bytes,
/// for methods whose payload is opaque.
public protocol MessageCodable: Sendable {
    /// Decodes a message; throws INTERNAL (undecodable) or RESOURCE_EXHAUSTED (over a bound).
    init(serializedBytes: UnsafeRawBufferPointer) throws
    /// Appends the message's encoding to `buffer`.
    func serialize(into buffer: inout [UInt8])
}

extension MessageCodable {
    public init(serializedBytes bytes: [UInt8]) throws {
        self = try bytes.withUnsafeBytes { try Self(serializedBytes: $0) }
    }

    /// The message's encoding.
    public func serializedBytes() -> [UInt8] {
        var buffer: [UInt8] = []
        serialize(into: &buffer)
        return buffer
    }
}

extension Array: MessageCodable where Element == UInt8 {
    public init(serializedBytes: UnsafeRawBufferPointer) {
        self = Array(serializedBytes)
    }

    public func serialize(into buffer: inout [UInt8]) {
        buffer.append(contentsOf: self)
    }
}
