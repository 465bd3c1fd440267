/// A message that travels as the payload of a call: it knows its own protobuf encoding.
///
/// Service messages (health, tasks) conform through protobuf-c; `[UInt8]` conforms as raw bytes,
/// for methods whose payload is opaque.
public protocol MessageCodable: Sendable {
    /// Decodes a message; throws INTERNAL (undecodable) or RESOURCE_EXHAUSTED (over a bound).
    init(serializedBytes: UnsafeRawBufferPointer) throws
    /// Decodes a message from an array; by default through the buffer initializer.
    init(serializedBytes: [UInt8]) throws
    /// Appends the message's encoding to `buffer`.
    func serialize(into buffer: inout [UInt8])
    /// The message's encoding; by default `serialize(into:)` on an empty array.
    func serializedBytes() -> [UInt8]
}

extension MessageCodable {
    public init(serializedBytes bytes: [UInt8]) throws {
        self = try bytes.withUnsafeBytes { try Self(serializedBytes: $0) }
    }

    public func serializedBytes() -> [UInt8] {
        var buffer: [UInt8] = []
        serialize(into: &buffer)
        return buffer
    }
}

/// Raw bytes are their own encoding: converting to and from an array shares the storage
/// rather than copying it (a call with a `[UInt8]` payload copies it only into the frame).
extension Array: MessageCodable where Element == UInt8 {
    public init(serializedBytes: UnsafeRawBufferPointer) {
        self = Array(serializedBytes)
    }

    public init(serializedBytes bytes: [UInt8]) {
        self = bytes
    }

    public func serialize(into buffer: inout [UInt8]) {
        buffer.append(contentsOf: self)
    }

    public func serializedBytes() -> [UInt8] { self }
}
