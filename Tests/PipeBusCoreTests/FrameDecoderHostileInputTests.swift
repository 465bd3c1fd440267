import PipeBusCore
import Testing

@Suite("Frame decoder: hostile input")
struct FrameDecoderHostileInputTests {
    @Test
    func lengthOfAllOnesIsResourceExhaustedFromTheHeaderAlone() {
        var decoder = FrameDecoder()
        decoder.append(frameHeader(flags: 0, length: 0xFFFF_FFFF))
        let error = expectRPCError { try decoder.nextFrame() }
        #expect(error?.code == .resourceExhausted)
        // The message names the actual value and the limit: it comes from the header check.
        #expect(error?.message == "frame of 4294967295 bytes exceeds the max frame size of 4194304 bytes")
        #expect(decoder.bufferedByteCount == FrameHeader.size)
    }

    @Test
    func everyPrefixOfAStreamIsTruncatedNotAnError() throws {
        var encoder = FrameEncoder(compression: CompressionPolicy(isEnabled: true, threshold: 1000))
        var wire: [UInt8] = []
        let bodies = [[], [1, 2, 3], Payload.compressible.bytes(2000), Payload.incompressible.bytes(40)]
        var frameEnds: [Int] = []
        for body in bodies {
            try encoder.append(body: body, to: &wire)
            frameEnds.append(wire.count)
        }
        #expect(wire[frameEnds[1]] == FrameHeader.compressedFlag, "the stream holds a compressed frame")

        for cut in 0...wire.count {
            var decoder = FrameDecoder()
            decoder.append(wire[..<cut])
            var frames: [Frame] = []
            while let frame = try decoder.nextFrame() { frames.append(frame) }
            let whole = frameEnds.filter { $0 <= cut }
            #expect(frames.map(\.body) == Array(bodies.prefix(whole.count)), "cut at \(cut)")
            #expect(decoder.bufferedByteCount == cut - (whole.last ?? 0), "cut at \(cut)")
        }
    }

    @Test(arguments: 1...7)
    func reservedFlagBitIsInternal(bit: Int) {
        let flag = UInt8(1) << bit
        for flags in [flag, flag | FrameHeader.compressedFlag] {
            // Rejected as soon as the header is in, before the body arrives.
            var decoder = FrameDecoder()
            decoder.append(frameHeader(flags: flags, length: 10))
            let error = expectRPCError { try decoder.nextFrame() }
            #expect(error?.code == .internal)
            #expect(error?.message.contains("reserved flag bits") == true)
            #expect(error?.message.contains(String(flags, radix: 16)) == true)
        }
    }

    @Test(arguments: 0..<FrameHeader.compressedPrefixSize)
    func compressedBodyShorterThanItsSizePrefixIsInternal(length: Int) {
        var decoder = FrameDecoder()
        decoder.append(
            frameHeader(flags: FrameHeader.compressedFlag, length: UInt32(length)) + [0, 0, 0].prefix(length)
        )
        let error = expectRPCError { try decoder.nextFrame() }
        #expect(error?.code == .internal)
        #expect(error?.message.contains("shorter than its 4-byte size prefix") == true)
    }

    @Test
    func lz4BombDeclaringOneGiBIsRejectedBeforeDecompressing() throws {
        // A real LZ4 block of 1 MiB of zeros is a few kilobytes; declare that it holds 1 GiB.
        let real = try compressedFrame(of: [UInt8](repeating: 0, count: 1 << 20))
        #expect(real.count < 8 * 1024)
        var bomb = real
        bomb.replaceSubrange(5..<9, with: bigEndianBytes(1 << 30))
        var decoder = FrameDecoder()
        decoder.append(bomb)
        let error = expectRPCError { try decoder.nextFrame() }
        // Over the limit is RESOURCE_EXHAUSTED whether or not the frame was compressed.
        #expect(error?.code == .resourceExhausted)
        #expect(error?.message.contains("1073741824") == true)
        #expect(error?.message.contains("4194304") == true)
    }

    @Test
    func compressedFrameOverTheLimitIsResourceExhaustedLikeAnUncompressedOne() throws {
        let limit = 64 * 1024
        // The peer's encoder allows larger frames than this decoder does.
        var compressing = FrameEncoder(maxFrameSize: 2 * limit, compression: Compression.enabled.policy)
        var plain = FrameEncoder(maxFrameSize: 2 * limit)
        var compressed: [UInt8] = []
        var uncompressed: [UInt8] = []
        try compressing.append(body: Payload.compressible.bytes(limit + 1), to: &compressed)
        try plain.append(body: Payload.compressible.bytes(limit + 1), to: &uncompressed)
        #expect(compressed[0] == FrameHeader.compressedFlag)
        #expect(compressed.count < limit, "small on the wire, over the limit once decompressed")

        for wire in [compressed, uncompressed] {
            let error = expectRPCError { try decodeFrames(wire, maxFrameSize: limit) }
            #expect(error?.code == .resourceExhausted)
            #expect(error?.message.contains("\(limit + 1)") == true)
            #expect(error?.message.contains("\(limit) bytes") == true)
        }

        // Exactly the limit, compressed, is fine.
        let atLimit = try compressedFrame(of: Payload.compressible.bytes(limit))
        #expect(try decodeFrames(atLimit, maxFrameSize: limit).map(\.body.count) == [limit])
    }

    @Test(arguments: [-1, 1, -100, 1000])
    func declaredSizeMustMatchTheDecompressedLength(delta: Int) throws {
        let body = Payload.compressible.bytes(8192)
        var wire = try compressedFrame(of: body)
        wire.replaceSubrange(5..<9, with: bigEndianBytes(UInt32(body.count + delta)))
        let error = expectRPCError { try decodeFrames(wire) }
        #expect(error?.code == .internal)
        if delta > 0 {
            #expect(error?.message == "LZ4 data decompressed to 8192 bytes but the frame declared \(8192 + delta)")
        } else {
            #expect(
                error?.cause?.contains("LZ4_decompress_safe returned") == true,
                "output would overflow the declared size"
            )
        }
    }

    @Test
    func declaredZeroDecodesOnlyTheEmptyBlock() throws {
        let empty = frameHeader(flags: FrameHeader.compressedFlag, length: 5) + [0, 0, 0, 0, 0]
        #expect(try decodeFrames(empty) == [Frame(body: [], wasCompressed: true)])
        let noData = frameHeader(flags: FrameHeader.compressedFlag, length: 4) + [0, 0, 0, 0]
        #expect(expectRPCError { try decodeFrames(noData) }?.code == .internal)
        let extraData = frameHeader(flags: FrameHeader.compressedFlag, length: 6) + [0, 0, 0, 0, 0, 0]
        #expect(expectRPCError { try decodeFrames(extraData) }?.code == .internal)
        let noDataForFive = frameHeader(flags: FrameHeader.compressedFlag, length: 4) + [0, 0, 0, 5]
        #expect(expectRPCError { try decodeFrames(noDataForFive) }?.code == .internal)
    }

    @Test
    func corruptLZ4DataIsInternal() throws {
        let body = Payload.compressible.bytes(8192)
        let wire = try compressedFrame(of: body)
        let dataStart = FrameHeader.size + FrameHeader.compressedPrefixSize

        // A literal run that claims far more bytes than there are.
        var overrun = wire
        overrun.replaceSubrange(dataStart..., with: [UInt8](repeating: 0xFF, count: wire.count - dataStart))
        // The block cut short (the header's length adjusted so that the frame itself is whole).
        var truncated = Array(wire.dropLast(10))
        truncated.replaceSubrange(1..<5, with: bigEndianBytes(UInt32(truncated.count - FrameHeader.size)))
        // A match offset pointing before the start of the output: token 0x0F (no literals, a
        // match), offset 0xFFFF.
        var badOffset = frameHeader(flags: FrameHeader.compressedFlag, length: 4 + 3)
        badOffset += bigEndianBytes(100) + [0x0F, 0xFF, 0xFF]

        for (name, corrupt) in [("overrun", overrun), ("truncated", truncated), ("bad offset", badOffset)] {
            let error = expectRPCError { try decodeFrames(corrupt) }
            #expect(error?.code == .internal, "\(name)")
        }

        // Random blocks: never a crash, and anything accepted has exactly the declared size.
        var generator = SeededGenerator(seed: 0x1A4)
        for round in 0..<2000 {
            let declared = Int.random(in: 0...4096, using: &generator)
            let data = generator.bytes(Int.random(in: 0...64, using: &generator))
            let frame =
                frameHeader(flags: FrameHeader.compressedFlag, length: UInt32(4 + data.count))
                + bigEndianBytes(UInt32(declared)) + data
            do {
                let frames = try decodeFrames(frame)
                #expect(frames.map(\.body.count) == [declared], "round \(round)")
            } catch let error as RPCError {
                #expect(error.code == .internal, "round \(round): \(error)")
            }
        }
    }

    @Test
    func afterAnErrorTheDecoderKeepsThrowingTheSameError() throws {
        var decoder = FrameDecoder()
        var good: [UInt8] = []
        var encoder = FrameEncoder()
        try encoder.append(body: [1, 2, 3], to: &good)
        decoder.append(good + frameHeader(flags: 0x80, length: 0) + good)
        #expect(try decoder.nextFrame() == Frame(body: [1, 2, 3]))
        let first = try #require(expectRPCError { try decoder.nextFrame() })
        #expect(first.code == .internal)
        // More valid bytes do not bring it back in step.
        decoder.append(good)
        for _ in 0..<3 {
            #expect(expectRPCError { try decoder.nextFrame() } == first)
            #expect(expectRPCError { try decoder.withNextFrameBody { body, _ in body.count } } == first)
        }
    }

    @Test
    func anUndecodableEnvelopeInsideWithNextFrameBodyAlsoSticks() throws {
        // The connection decodes the envelope while the body is borrowed; an INTERNAL there means
        // the stream can't be trusted either, so the decoder stops just as for a framing error.
        var wire: [UInt8] = []
        var encoder = FrameEncoder()
        try encoder.append(body: [0xFF], to: &wire)
        try encoder.append(body: [], to: &wire)
        var decoder = FrameDecoder()
        decoder.append(wire)
        let first = try #require(
            expectRPCError { try decoder.withNextFrameBody { body, _ in try Envelope(serializedBytes: body) } }
        )
        #expect(first.code == .internal)
        #expect(expectRPCError { try decoder.nextFrame() } == first)
    }

    /// Feeds `stream` in seeded random chunks; returns every error the decoder or envelope decoding
    /// threw, and records an issue for anything other than an RPCError.
    private func decodeHostileStream(
        _ stream: [UInt8],
        maxFrameSize: Int,
        using generator: inout SeededGenerator,
        round: Int
    ) -> (error: RPCError?, frames: Int) {
        var decoder = FrameDecoder(maxFrameSize: maxFrameSize, initialCapacity: 0)
        var frames = 0
        var offset = 0
        var firstError: RPCError?
        while offset < stream.count, firstError == nil {
            let end = min(stream.count, offset + Int.random(in: 1...64, using: &generator))
            decoder.append(stream[offset..<end])
            offset = end
            do {
                while let frame = try decoder.nextFrame() {
                    frames += 1
                    #expect(frame.body.count <= maxFrameSize)
                    do {
                        _ = try Envelope(serializedBytes: frame.body)
                    } catch let error as RPCError {
                        #expect([.internal, .resourceExhausted].contains(error.code), "round \(round): \(error)")
                    }
                }
            } catch let error as RPCError {
                firstError = error
            } catch {
                Issue.record("round \(round): not an RPCError: \(type(of: error)) \(error)")
                return (nil, frames)
            }
        }
        if let firstError {
            #expect([.internal, .resourceExhausted].contains(firstError.code), "round \(round): \(firstError)")
            #expect(expectRPCError { try decoder.nextFrame() } == firstError, "round \(round): the error sticks")
        }
        return (firstError, frames)
    }

    @Test
    func randomGarbageNeverCrashesAndOnlyThrowsInternalOrResourceExhausted() throws {
        var generator = SeededGenerator(seed: 0x6A7BA6E)
        var errorCodes: [StatusCode: Int] = [:]
        var framesDecoded = 0

        // A valid stream of envelopes, some compressed, to mutate.
        var valid: [UInt8] = []
        var encoder = FrameEncoder(compression: CompressionPolicy(isEnabled: true, threshold: 64))
        for index in 0..<6 {
            let envelope = Envelope(
                streamID: UInt32(2 * index + 1),
                kind: .open,
                method: "/pipebus.v1.Tasks/Submit",
                metadata: ["traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "x-bin": "\u{1}"],
                message: Payload.compressible.bytes(index * 60)
            )
            try appendFrame(carrying: envelope, with: &encoder, to: &valid)
        }

        for round in 0..<6000 {
            let stream: [UInt8]
            switch round % 3 {
            case 0:
                // Pure noise.
                stream = generator.bytes(Int.random(in: 0...256, using: &generator))
            case 1:
                // Well-formed headers (flags mostly 0 or 1, small lengths) around noise bodies.
                var bytes: [UInt8] = []
                for _ in 0..<Int.random(in: 1...4, using: &generator) {
                    let length = Int.random(in: 0...96, using: &generator)
                    let flags: UInt8 =
                        switch Int.random(in: 0..<6, using: &generator) {
                        case 0, 1: 0
                        case 2, 3, 4: FrameHeader.compressedFlag
                        default: UInt8.random(in: 0...255, using: &generator)
                        }
                    bytes += frameHeader(flags: flags, length: UInt32(length)) + generator.bytes(length)
                }
                stream = bytes
            default:
                // A valid stream with a few bytes changed.
                var bytes = valid
                for _ in 0..<Int.random(in: 1...4, using: &generator) {
                    let index = Int.random(in: 0..<bytes.count, using: &generator)
                    bytes[index] = UInt8.random(in: 0...255, using: &generator)
                }
                stream = bytes
            }
            let maxFrameSize = round.isMultiple(of: 2) ? FrameHeader.defaultMaxFrameSize : 4096
            let (error, frames) = decodeHostileStream(
                stream,
                maxFrameSize: maxFrameSize,
                using: &generator,
                round: round
            )
            framesDecoded += frames
            if let error { errorCodes[error.code, default: 0] += 1 }
        }
        // The generator reached every path: both kinds of error and plenty of frames.
        #expect(errorCodes[.internal, default: 0] > 100)
        #expect(errorCodes[.resourceExhausted, default: 0] > 100)
        #expect(framesDecoded > 1000)
    }
}
