import PipeBusCore
import Testing

/// A body of a given size and flavour, named for the test report.
struct BodySample: Sendable, CustomTestStringConvertible {
    var size: Int
    var payload: Payload

    var bytes: [UInt8] { payload.bytes(size) }
    var testDescription: String { "\(size) B \(payload.rawValue)" }

    /// Nothing, one byte, either side of a page, a typical large payload, and the largest frame.
    static let boundarySizes = [0, 1, 4095, 4096, 64 * 1024, FrameHeader.defaultMaxFrameSize]
    static let all = Payload.allCases.flatMap { payload in boundarySizes.map { BodySample(size: $0, payload: payload) }
    }

    /// Whether the encoder should compress this body when compression is on: LZ4 shrinks the
    /// text by far more than its 4-byte size prefix once there is a page of it, and never shrinks noise.
    var shouldCompress: Bool { payload == .compressible && size >= 4095 }
}

@Suite("Frame codec: raw bodies round trip")
struct FrameCodecRoundTripTests {
    @Test(arguments: Compression.allCases, BodySample.all)
    func bodyRoundTrips(compression: Compression, sample: BodySample) throws {
        let body = sample.bytes
        var encoder = FrameEncoder(compression: compression.policy)
        var wire: [UInt8] = []
        try encoder.append(body: body, to: &wire)

        let onWire = declaredLength(in: wire)
        #expect(wire.count == FrameHeader.size + onWire)
        let flaggedCompressed = wire[0] == FrameHeader.compressedFlag
        #expect(wire[0] & ~FrameHeader.compressedFlag == 0, "no reserved flag bit is ever sent")
        #expect(flaggedCompressed == (compression == .enabled && sample.shouldCompress))
        if flaggedCompressed {
            #expect(onWire < body.count, "compression is used only when it makes the body smaller")
            #expect(Array(wire[5..<9]) == bigEndianBytes(UInt32(body.count)), "the prefix declares the body size")
        } else {
            #expect(onWire == body.count)
        }

        var decoder = FrameDecoder()
        decoder.append(wire)
        let frame = try #require(try decoder.nextFrame())
        #expect(frame.wasCompressed == flaggedCompressed)
        let sameBody = frame.body == body
        #expect(sameBody, "decoded \(frame.body.count) bytes, sent \(body.count)")
        #expect(try decoder.nextFrame() == nil)
        #expect(decoder.bufferedByteCount == 0)
    }

    @Test(arguments: Compression.allCases, Payload.allCases)
    func bodyOfExactlyMaxFrameSizeIsAcceptedAndOneMoreIsRejected(compression: Compression, payload: Payload) throws {
        let limit = FrameHeader.defaultMaxFrameSize
        var encoder = FrameEncoder(compression: compression.policy)
        var wire: [UInt8] = []
        try encoder.append(body: payload.bytes(limit), to: &wire)
        let frames = try decodeFrames(wire)
        #expect(frames.map(\.body.count) == [limit])

        // One byte more: the encoder refuses it before compressing (a compressible body over the
        // limit is still over the limit for the peer's decoder) and leaves the buffer as it was.
        let before = wire
        let error = expectRPCError { try encoder.append(body: payload.bytes(limit + 1), to: &wire) }
        #expect(error?.code == .resourceExhausted)
        #expect(error?.message.contains("\(limit + 1)") == true)
        #expect(error?.message.contains("\(limit)") == true)
        let unchanged = wire == before  // outside #expect, which would print megabytes on failure
        #expect(unchanged, "the buffer is as it was")
    }

    @Test(arguments: [0, 1, FrameHeader.size - 1, 100, 4096])
    func customLimitIsEnforcedAtEachEnd(limit: Int) throws {
        var encoder = FrameEncoder(maxFrameSize: limit)
        var wire: [UInt8] = []
        try encoder.append(body: Payload.incompressible.bytes(limit), to: &wire)
        #expect(
            expectRPCError { try encoder.append(body: Payload.incompressible.bytes(limit + 1), to: &wire) }?.code
                == .resourceExhausted
        )
        #expect(try decodeFrames(wire, maxFrameSize: limit).map(\.body.count) == [limit])

        var decoder = FrameDecoder(maxFrameSize: limit)
        decoder.append(frameHeader(flags: 0, length: UInt32(limit + 1)))
        let error = expectRPCError { try decoder.nextFrame() }
        #expect(error?.code == .resourceExhausted)
        #expect(error?.message == "frame of \(limit + 1) bytes exceeds the max frame size of \(limit) bytes")
    }

    @Test
    func decoderRejectsHeaderDeclaringDefaultLimitPlusOne() throws {
        let limit = FrameHeader.defaultMaxFrameSize
        var decoder = FrameDecoder()
        decoder.append(frameHeader(flags: 0, length: UInt32(limit + 1)))
        let error = expectRPCError { try decoder.nextFrame() }
        #expect(error?.code == .resourceExhausted)
        #expect(error?.message == "frame of 4194305 bytes exceeds the max frame size of 4194304 bytes")

        // Exactly the limit is fine: the decoder just waits for the body.
        var atLimit = FrameDecoder()
        atLimit.append(frameHeader(flags: 0, length: UInt32(limit)))
        #expect(try atLimit.nextFrame() == nil)
        #expect(atLimit.bufferedByteCount == FrameHeader.size)
    }

    @Test
    func headerMinusOneByteIsNotYetAFrame() throws {
        var decoder = FrameDecoder()
        let wire = frameHeader(flags: 0, length: 0)
        decoder.append(wire.dropLast())
        #expect(try decoder.nextFrame() == nil)
        #expect(decoder.bufferedByteCount == FrameHeader.size - 1)
        decoder.append(wire.suffix(1))
        #expect(try decoder.nextFrame() == Frame(body: []))
        #expect(decoder.bufferedByteCount == 0)
    }

    @Test
    func belowThresholdIsSentAsIs() throws {
        var encoder = FrameEncoder(compression: CompressionPolicy(isEnabled: true, threshold: 8192))
        var wire: [UInt8] = []
        try encoder.append(body: Payload.compressible.bytes(8191), to: &wire)
        try encoder.append(body: Payload.compressible.bytes(8192), to: &wire)
        let frames = try decodeFrames(wire)
        #expect(frames.map(\.wasCompressed) == [false, true])
        #expect(frames.map(\.body.count) == [8191, 8192])
    }

    @Test
    func appendFrameRollsBackWhenTheBodyWriterThrows() throws {
        struct WriterFailed: Error {}
        var encoder = FrameEncoder()
        var wire: [UInt8] = []
        try encoder.append(body: [1, 2, 3], to: &wire)
        let before = wire
        #expect(throws: WriterFailed.self) {
            try encoder.appendFrame(to: &wire) { buffer in
                buffer.append(contentsOf: [9, 9, 9])
                throw WriterFailed()
            }
        }
        let unchanged = wire == before  // outside #expect, which would print megabytes on failure
        #expect(unchanged, "the buffer is as it was")
    }
}
