internal import CLZ4

/// The LZ4 *frame* format (not the wire's bare blocks): what the `lz4` command line writes and
/// `lz4cat` reads, so a file of such frames can be read on any host with a shell. A file may
/// hold several frames one after another (`lz4cat` decodes them all, in order); each frame is
/// self-contained and carries a checksum of its content.
package enum LZ4Frame {
    /// The first four bytes of every frame (little-endian 0x184D2204).
    static let magic: [UInt8] = [0x04, 0x22, 0x4D, 0x18]

    /// `bytes` as one frame, with a content checksum.
    package static func compress(_ bytes: [UInt8]) throws -> [UInt8] {
        var preferences = LZ4F_preferences_t()
        preferences.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled
        preferences.frameInfo.contentSize = UInt64(bytes.count)
        let bound = LZ4F_compressFrameBound(bytes.count, &preferences)
        var output = [UInt8](repeating: 0, count: bound)
        let written = output.withUnsafeMutableBytes { destination in
            bytes.withUnsafeBytes { source in
                LZ4F_compressFrame(destination.baseAddress, destination.count, source.baseAddress, source.count, &preferences)
            }
        }
        if LZ4F_isError(written) != 0 {
            throw RPCError(code: .internal, message: "LZ4 frame compression failed", cause: String(cString: LZ4F_getErrorName(written)))
        }
        output.removeSubrange(written...)
        return output
    }

    /// One frame of a file: where it starts and ends, and its content.
    package struct Frame: Sendable {
        package var start: Int
        package var end: Int
        package var content: [UInt8]
    }

    /// Where a file stopped decoding: a frame that is cut short (`truncated`, only ever at the
    /// end of the data) or corrupt.
    package struct Damage: Sendable, Equatable {
        package var offset: Int
        package var truncated: Bool
        package var reason: String
    }

    /// Every frame in `data`, in order. A damaged frame does not stop the others: decoding goes
    /// on at the next frame's magic number after it, so one bad frame loses only its own content.
    package static func frames(in data: [UInt8]) -> (frames: [Frame], damage: [Damage]) {
        var frames: [Frame] = []
        var damage: [Damage] = []
        var offset = 0
        while offset < data.count {
            switch decodeFrame(data, at: offset) {
            case .frame(let content, let end):
                frames.append(Frame(start: offset, end: end, content: content))
                offset = end
            case .damaged(let truncated, let reason):
                damage.append(Damage(offset: offset, truncated: truncated, reason: reason))
                guard let next = nextMagic(in: data, after: offset) else { return (frames, damage) }
                offset = next
            }
        }
        return (frames, damage)
    }

    private enum Decoded {
        case frame([UInt8], end: Int)
        case damaged(truncated: Bool, reason: String)
    }

    private static func decodeFrame(_ data: [UInt8], at start: Int) -> Decoded {
        var context: OpaquePointer?
        let created = LZ4F_createDecompressionContext(&context, UInt32(LZ4F_VERSION))
        guard LZ4F_isError(created) == 0, let context else {
            return .damaged(truncated: false, reason: "no LZ4 decompression context")
        }
        defer { LZ4F_freeDecompressionContext(context) }
        var content: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        var offset = start
        while true {
            var sourceSize = data.count - offset
            var destinationSize = chunk.count
            let hint = data.withUnsafeBytes { source in
                chunk.withUnsafeMutableBytes { destination in
                    LZ4F_decompress(context, destination.baseAddress, &destinationSize, source.baseAddress! + offset, &sourceSize, nil)
                }
            }
            if LZ4F_isError(hint) != 0 {
                return .damaged(truncated: false, reason: String(cString: LZ4F_getErrorName(hint)))
            }
            content.append(contentsOf: chunk[..<destinationSize])
            offset += sourceSize
            if hint == 0 { return .frame(content, end: offset) }
            // More input wanted: if there is none, the frame is cut short; if it made no progress
            // with input left, it is stuck (should not happen, but never loop forever).
            if offset >= data.count { return .damaged(truncated: true, reason: "the frame is cut short") }
            if sourceSize == 0 && destinationSize == 0 { return .damaged(truncated: false, reason: "the frame does not decode") }
        }
    }

    private static func nextMagic(in data: [UInt8], after offset: Int) -> Int? {
        var index = offset + 1
        while index + magic.count <= data.count {
            if data[index] == magic[0], data[index + 1] == magic[1], data[index + 2] == magic[2], data[index + 3] == magic[3] {
                return index
            }
            index += 1
        }
        return nil
    }
}
