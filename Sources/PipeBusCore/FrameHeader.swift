/// The five bytes in front of every frame body, as in gRPC's Length-Prefixed-Message:
///
///     byte 0      flags: bit 0 = the body is LZ4-block-compressed; bits 1-7 reserved, must be 0
///     bytes 1-4   the body's length in bytes, big-endian (unsigned 32-bit)
///
/// A compressed body starts with its declared uncompressed length (4 bytes, big-endian),
/// followed by one LZ4 block.
public enum FrameHeader {
    /// Bytes in a frame header: 1 flags + 4 length.
    public static let size = 5
    /// Bytes in front of the LZ4 block of a compressed body: the declared uncompressed length.
    public static let compressedPrefixSize = 4
    /// Flag bit 0: the body is compressed.
    public static let compressedFlag: UInt8 = 0x01
    /// Bits that must be zero in this protocol version.
    public static let reservedFlags: UInt8 = 0xFE
    /// The largest frame body accepted unless configured otherwise: 4 MiB.
    public static let defaultMaxFrameSize = 4 * 1024 * 1024
    /// The largest limit that can be configured: what LZ4 can decompress in one block.
    public static let largestMaxFrameSize = 0x7E00_0000

    /// Writes a header at `offset` of `buffer`, which must have room for it.
    @inlinable
    static func write(flags: UInt8, length: UInt32, into buffer: inout [UInt8], at offset: Int) {
        buffer[offset] = flags
        buffer[offset + 1] = UInt8(truncatingIfNeeded: length >> 24)
        buffer[offset + 2] = UInt8(truncatingIfNeeded: length >> 16)
        buffer[offset + 3] = UInt8(truncatingIfNeeded: length >> 8)
        buffer[offset + 4] = UInt8(truncatingIfNeeded: length)
    }

    @inlinable
    static func readUInt32(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> UInt32 {
        UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16 | UInt32(bytes[offset + 2]) << 8
            | UInt32(bytes[offset + 3])
    }
}

/// One decoded frame: its flags as sent and its body, already decompressed.
public struct Frame: Hashable, Sendable {
    public var wasCompressed: Bool
    public var body: [UInt8]

    public init(body: [UInt8], wasCompressed: Bool = false) {
        self.body = body
        self.wasCompressed = wasCompressed
    }
}

/// When frame bodies are compressed.
public struct CompressionPolicy: Hashable, Sendable {
    /// Compress at all (the peer must have said in its handshake that it can decode LZ4).
    public var isEnabled: Bool
    /// Bodies smaller than this are sent as they are. LZ4 runs at ~1 GB/s here, slower than a
    /// local pipe, so compression pays only for large compressible payloads.
    public var threshold: Int

    public init(isEnabled: Bool = false, threshold: Int = 16 * 1024) {
        self.isEnabled = isEnabled
        self.threshold = threshold
    }

    public static let disabled = CompressionPolicy(isEnabled: false)
    /// On, from the default threshold up (a server's default: PROTOCOL.md §3).
    public static let enabled = CompressionPolicy(isEnabled: true)
}
