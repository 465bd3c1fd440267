/// Appends frames to a byte buffer, so that several frames can leave in one `write`.
///
/// Pure: no file descriptors. Compression follows `CompressionPolicy` and is used only when it
/// makes the body smaller.
public struct FrameEncoder: Sendable {
    /// The largest body the peer accepts.
    public var maxFrameSize: Int {
        didSet { maxFrameSize = min(maxFrameSize, FrameHeader.largestMaxFrameSize) }
    }
    public var compression: CompressionPolicy {
        didSet { compressFrom = Self.compressFrom(compression) }
    }
    /// The smallest body compressed (`Int.max`: none), so that a body below the threshold costs
    /// one comparison whether compression is on or off: the pipe's 64 B reply is the hot path.
    private var compressFrom: Int
    private var scratch: [UInt8] = []

    public init(maxFrameSize: Int = FrameHeader.defaultMaxFrameSize, compression: CompressionPolicy = .disabled) {
        // LZ4 and the 4-byte length field count in 32 bits: a larger limit could never be honoured.
        self.maxFrameSize = min(maxFrameSize, FrameHeader.largestMaxFrameSize)
        self.compression = compression
        self.compressFrom = Self.compressFrom(compression)
    }

    private static func compressFrom(_ policy: CompressionPolicy) -> Int {
        policy.isEnabled ? max(policy.threshold, 0) : .max
    }

    /// Appends one frame carrying `body`.
    public mutating func append(body: some Collection<UInt8>, to buffer: inout [UInt8]) throws {
        let start = buffer.count
        buffer.appendZeros(FrameHeader.size)
        buffer.append(contentsOf: body)
        try finishFrame(startingAt: start, in: &buffer)
    }

    /// Appends one frame whose body `writeBody` appends to the buffer it is given. Used by the
    /// envelope encoder to pack protobuf straight into the output buffer.
    public mutating func appendFrame(
        to buffer: inout [UInt8],
        writeBody: (inout [UInt8]) throws -> Void
    ) throws {
        let start = buffer.count
        buffer.appendZeros(FrameHeader.size)
        do {
            try writeBody(&buffer)
            try finishFrame(startingAt: start, in: &buffer)
        } catch {
            buffer.removeSubrange(start...)
            throw error
        }
    }

    /// Fills in the header of the frame at `start`, compressing its body when the policy says so.
    private mutating func finishFrame(startingAt start: Int, in buffer: inout [UInt8]) throws {
        let bodyStart = start + FrameHeader.size
        let bodyCount = buffer.count - bodyStart
        guard bodyCount <= maxFrameSize else {
            buffer.removeSubrange(start...)
            throw RPCError(
                code: .resourceExhausted,
                message: "message of \(bodyCount) bytes exceeds the peer's max frame size of \(maxFrameSize) bytes"
            )
        }
        if bodyCount >= compressFrom, compressInPlace(bodyStart: bodyStart, in: &buffer) {
            let length = UInt32(buffer.count - bodyStart)
            FrameHeader.write(flags: FrameHeader.compressedFlag, length: length, into: &buffer, at: start)
        } else {
            FrameHeader.write(flags: 0, length: UInt32(bodyCount), into: &buffer, at: start)
        }
    }

    /// Replaces the body at `bodyStart` with its compressed form if that is smaller.
    private mutating func compressInPlace(bodyStart: Int, in buffer: inout [UInt8]) -> Bool {
        let bodyCount = buffer.count - bodyStart
        let bound = LZ4Block.compressBound(bodyCount)
        if scratch.count < bound { scratch = [UInt8](repeating: 0, count: bound) }
        let compressed = buffer.withUnsafeBytes { all in
            scratch.withUnsafeMutableBytes { out in
                LZ4Block.compress(UnsafeRawBufferPointer(rebasing: all[bodyStart...]), into: out)
            }
        }
        guard compressed > 0, compressed + FrameHeader.compressedPrefixSize < bodyCount else { return false }
        buffer.removeSubrange(bodyStart...)
        let declared = UInt32(bodyCount)
        buffer.append(UInt8(truncatingIfNeeded: declared >> 24))
        buffer.append(UInt8(truncatingIfNeeded: declared >> 16))
        buffer.append(UInt8(truncatingIfNeeded: declared >> 8))
        buffer.append(UInt8(truncatingIfNeeded: declared))
        buffer.append(contentsOf: scratch[0..<compressed])
        return true
    }
}
