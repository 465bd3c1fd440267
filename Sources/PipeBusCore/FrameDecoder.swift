/// Splits a byte stream into frames, incrementally.
///
/// Feed it bytes as they arrive (`append`, or `readInto` for a `read(2)` straight into its
/// buffer); `nextFrame()` returns nil until a whole frame is buffered. Limits are checked on the
/// header, before anything is allocated for the body: a length above `maxFrameSize` is
/// RESOURCE_EXHAUSTED; a compressed body's declared size is checked against the limit before the
/// output is allocated and must match the decompressed size exactly. After an error the stream
/// is out of step, so every later call throws the same error.
public struct FrameDecoder: Sendable {
    public let maxFrameSize: Int
    private var buffer: [UInt8]
    private var readIndex = 0
    private var writeIndex = 0
    private var decompressed: [UInt8] = []
    private var failure: RPCError?

    public init(maxFrameSize: Int = FrameHeader.defaultMaxFrameSize, initialCapacity: Int = 64 * 1024) {
        // LZ4 and the 4-byte length field count in 32 bits: a larger limit could never be honoured.
        self.maxFrameSize = min(maxFrameSize, FrameHeader.largestMaxFrameSize)
        self.buffer = Self.uninitializedBytes(initialCapacity) { _ in }
    }

    /// `count` bytes of which only what `fill` writes is ever read. Not zero-filled, so the
    /// pages a `read(2)` never reaches are never touched: a connection's 256 KiB read space
    /// costs the memory its largest read used, not all of it (a sidecar holds one per client).
    private static func uninitializedBytes(_ count: Int, _ fill: (UnsafeMutableRawBufferPointer) -> Void) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: count) { bytes, initializedCount in
            fill(UnsafeMutableRawBufferPointer(bytes))
            initializedCount = count
        }
    }

    /// Bytes received but not yet returned as frames.
    public var bufferedByteCount: Int { writeIndex - readIndex }

    public mutating func append(_ bytes: some Collection<UInt8>) {
        reserveSpace(bytes.count)
        buffer.replaceSubrange(writeIndex..<(writeIndex + bytes.count), with: bytes)
        writeIndex += bytes.count
    }

    /// Lets `read` fill up to `maximum` bytes of free space in the buffer and returns what it
    /// returned; a positive result is the number of bytes it wrote.
    public mutating func readInto(maximum: Int, _ read: (UnsafeMutableRawBufferPointer) -> Int) -> Int {
        reserveSpace(maximum)
        let start = writeIndex
        let result = buffer.withUnsafeMutableBytes { all in
            read(UnsafeMutableRawBufferPointer(rebasing: all[start..<(start + maximum)]))
        }
        if result > 0 { writeIndex += result }
        return result
    }

    /// The next whole frame, or nil when more bytes are needed.
    public mutating func nextFrame() throws -> Frame? {
        try withNextFrameBody { body, compressed in Frame(body: Array(body), wasCompressed: compressed) }
    }

    /// Calls `handle` with the next whole frame's body (decompressed) without copying it, or
    /// returns nil when more bytes are needed. The body is valid only inside `handle`.
    public mutating func withNextFrameBody<Result>(
        _ handle: (UnsafeRawBufferPointer, _ wasCompressed: Bool) throws -> Result
    ) throws -> Result? {
        if let failure { throw failure }
        do {
            return try decodeNext(handle)
        } catch let error as RPCError {
            failure = error
            throw error
        }
    }

    private mutating func decodeNext<Result>(
        _ handle: (UnsafeRawBufferPointer, Bool) throws -> Result
    ) throws -> Result? {
        let available = writeIndex - readIndex
        guard available >= FrameHeader.size else { return nil }
        let start = readIndex
        let (flags, length) = buffer.withUnsafeBytes { all in
            (all[start], Int(FrameHeader.readUInt32(all, at: start + 1)))
        }
        if flags & FrameHeader.reservedFlags != 0 {
            throw RPCError(code: .internal, message: "frame has reserved flag bits set (flags byte 0x\(String(flags, radix: 16)))")
        }
        if length > maxFrameSize {
            throw RPCError(
                code: .resourceExhausted,
                message: "frame of \(length) bytes exceeds the max frame size of \(maxFrameSize) bytes"
            )
        }
        guard available >= FrameHeader.size + length else { return nil }
        let bodyStart = start + FrameHeader.size
        let compressed = flags & FrameHeader.compressedFlag != 0
        let result: Result
        if compressed {
            result = try decompressAndHandle(bodyStart: bodyStart, length: length, handle)
        } else {
            result = try buffer.withUnsafeBytes { (all) throws -> Result in
                try handle(UnsafeRawBufferPointer(rebasing: all[bodyStart..<(bodyStart + length)]), false)
            }
        }
        readIndex = bodyStart + length
        if readIndex == writeIndex {
            readIndex = 0
            writeIndex = 0
        }
        return result
    }

    private mutating func decompressAndHandle<Result>(
        bodyStart: Int,
        length: Int,
        _ handle: (UnsafeRawBufferPointer, Bool) throws -> Result
    ) throws -> Result {
        guard length >= FrameHeader.compressedPrefixSize else {
            throw RPCError(code: .internal, message: "compressed frame of \(length) bytes is shorter than its 4-byte size prefix")
        }
        let declared = buffer.withUnsafeBytes { Int(FrameHeader.readUInt32($0, at: bodyStart)) }
        if declared > maxFrameSize {
            // The same answer as for an uncompressed frame of that size (and as gRPC gives).
            throw RPCError(
                code: .resourceExhausted,
                message: "compressed frame declares \(declared) bytes, above the max frame size of \(maxFrameSize) bytes"
            )
        }
        if decompressed.count < declared { decompressed = [UInt8](repeating: 0, count: declared) }
        let dataStart = bodyStart + FrameHeader.compressedPrefixSize
        let dataEnd = bodyStart + length
        try buffer.withUnsafeBytes { (all) throws in
            try decompressed.withUnsafeMutableBytes { (out) throws in
                try LZ4Block.decompress(
                    UnsafeRawBufferPointer(rebasing: all[dataStart..<dataEnd]),
                    into: UnsafeMutableRawBufferPointer(rebasing: out[0..<declared])
                )
            }
        }
        let result = try decompressed.withUnsafeBytes { (out) throws -> Result in
            try handle(UnsafeRawBufferPointer(rebasing: out[0..<declared]), true)
        }
        // Don't hold on to a large buffer after a one-off large frame.
        if decompressed.count > 1024 * 1024 { decompressed = [] }
        return result
    }

    /// Makes room for `count` more bytes after `writeIndex`, compacting before growing.
    private mutating func reserveSpace(_ count: Int) {
        if buffer.count - writeIndex >= count { return }
        if readIndex > 0 {
            let live = writeIndex - readIndex
            buffer.withUnsafeMutableBytes { all in
                all.baseAddress!.copyMemory(from: all.baseAddress! + readIndex, byteCount: live)
            }
            readIndex = 0
            writeIndex = live
            if buffer.count - writeIndex >= count { return }
        }
        // Double, but never past what one maximal frame plus one read can need.
        let needed = writeIndex + count
        let ceiling = max(needed, maxFrameSize + FrameHeader.size + count)
        let newCount = min(max(buffer.count * 2, needed, 4096), ceiling)
        let written = writeIndex
        buffer = buffer.withUnsafeBytes { old in
            Self.uninitializedBytes(newCount) { new in new.copyMemory(from: UnsafeRawBufferPointer(rebasing: old[..<written])) }
        }
    }
}
