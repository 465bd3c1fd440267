internal import CLZ4

/// LZ4 block compression at the C boundary; return codes become `RPCError`s here.
enum LZ4Block {
    /// The largest input LZ4 accepts (LZ4_MAX_INPUT_SIZE).
    static let maxInputSize = 0x7E00_0000

    static func compressBound(_ count: Int) -> Int {
        Int(LZ4_compressBound(Int32(clamping: count)))
    }

    /// Compresses `source` into `destination`; returns the compressed size, or 0 when it does
    /// not fit (the caller then sends the body uncompressed).
    static func compress(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer) -> Int {
        guard source.count > 0, source.count <= maxInputSize else { return 0 }
        let written = LZ4_compress_default(
            source.baseAddress!.assumingMemoryBound(to: CChar.self),
            destination.baseAddress!.assumingMemoryBound(to: CChar.self),
            Int32(source.count),
            Int32(clamping: destination.count)
        )
        return Int(max(written, 0))
    }

    /// Decompresses exactly `destination.count` bytes; anything else is corrupt input.
    static func decompress(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer) throws {
        if destination.count == 0 {
            // LZ4 encodes an empty input as a single zero token.
            guard source.count == 1, source[0] == 0 else {
                throw RPCError(code: .internal, message: "compressed frame declares 0 bytes but carries \(source.count) bytes of LZ4 data")
            }
            return
        }
        guard source.count > 0 else {
            throw RPCError(code: .internal, message: "compressed frame has no LZ4 data for \(destination.count) declared bytes")
        }
        let result = LZ4_decompress_safe(
            source.baseAddress!.assumingMemoryBound(to: CChar.self),
            destination.baseAddress!.assumingMemoryBound(to: CChar.self),
            Int32(source.count),
            Int32(destination.count)
        )
        if result < 0 {
            throw RPCError(code: .internal, message: "corrupt LZ4 data in a frame of \(source.count) bytes", cause: "LZ4_decompress_safe returned \(result)")
        }
        if Int(result) != destination.count {
            throw RPCError(
                code: .internal,
                message: "LZ4 data decompressed to \(result) bytes but the frame declared \(destination.count)"
            )
        }
    }
}
