import PipeBusCore
import Testing

/// How a byte stream is cut into the pieces the decoder is fed, as in SwiftNIO's
/// `ByteToMessageDecoderVerifier`: the decoder must yield the same frames however it is cut.
enum Chunking: Sendable, CustomTestStringConvertible {
    case allAtOnce
    case byteByByte
    case framePerChunk
    /// Chunks of 1 to `maximum` bytes, drawn from a seeded generator.
    case random(seed: UInt64, maximum: Int)

    static let all: [Chunking] = [
        .allAtOnce, .byteByByte, .framePerChunk,
        .random(seed: 1, maximum: 7), .random(seed: 2, maximum: 300), .random(seed: 3, maximum: 70_000),
    ]

    func chunks(of stream: [UInt8], frameEnds: [Int]) -> [ArraySlice<UInt8>] {
        switch self {
        case .allAtOnce:
            return [stream[...]]
        case .byteByByte:
            return stream.indices.map { stream[$0...$0] }
        case .framePerChunk:
            return zip([0] + frameEnds, frameEnds).map { stream[$0..<$1] }
        case .random(let seed, let maximum):
            var generator = SeededGenerator(seed: seed)
            var chunks: [ArraySlice<UInt8>] = []
            var start = 0
            while start < stream.count {
                let end = min(stream.count, start + Int.random(in: 1...maximum, using: &generator))
                chunks.append(stream[start..<end])
                start = end
            }
            return chunks
        }
    }

    var testDescription: String {
        switch self {
        case .allAtOnce: "all at once"
        case .byteByByte: "byte by byte"
        case .framePerChunk: "one frame per chunk"
        case .random(let seed, let maximum): "random chunks of 1-\(maximum) B (seed \(seed))"
        }
    }
}

/// How chunks reach the decoder: `append`, or `readInto` as a `read(2)` would fill its buffer.
enum Feeding: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case append
    case readInto

    var testDescription: String { rawValue }
}

/// A stream of frames of every sort, and the frames it must decode to.
private struct SampleStream {
    var bytes: [UInt8] = []
    var frameEnds: [Int] = []
    var expected: [Frame] = []

    static func make() throws -> SampleStream {
        var stream = SampleStream()
        var plain = FrameEncoder()
        var compressing = FrameEncoder(compression: Compression.enabled.policy)
        func add(_ body: [UInt8], compressed: Bool) throws {
            if compressed {
                try compressing.append(body: body, to: &stream.bytes)
            } else {
                try plain.append(body: body, to: &stream.bytes)
            }
            stream.frameEnds.append(stream.bytes.count)
            stream.expected.append(Frame(body: body, wasCompressed: compressed))
        }
        try add([], compressed: false)
        try add([0x42], compressed: false)
        var envelope: [UInt8] = []
        Envelope(streamID: 1, kind: .open, method: "/a.B/C", metadata: ["traceparent": "00-ab-cd-01"], message: [1, 2])
            .serialize(into: &envelope)
        try add(envelope, compressed: false)
        try add(Payload.compressible.bytes(64 * 1024), compressed: true)
        try add(Payload.incompressible.bytes(5000), compressed: false)
        try add(Payload.compressible.bytes(4096), compressed: true)
        try add([], compressed: false)
        try add(Payload.incompressible.bytes(FrameHeader.size), compressed: false)
        return stream
    }
}

@Suite("Frame decoder: drip feeding")
struct FrameDecoderDripFeedTests {
    @Test(arguments: Chunking.all, Feeding.allCases)
    func everyChunkingYieldsTheSameFrames(chunking: Chunking, feeding: Feeding) throws {
        let stream = try SampleStream.make()
        // A small initial buffer makes the decoder grow and compact along the way.
        var decoder = FrameDecoder(initialCapacity: 16)
        var frames: [Frame] = []
        for chunk in chunking.chunks(of: stream.bytes, frameEnds: stream.frameEnds) {
            switch feeding {
            case .append:
                decoder.append(chunk)
            case .readInto:
                // Offer more room than the chunk, as a read(2) of a large buffer would.
                let result = decoder.readInto(maximum: chunk.count + 100) { free in
                    #expect(free.count == chunk.count + 100)
                    free.copyBytes(from: chunk)
                    return chunk.count
                }
                #expect(result == chunk.count)
            }
            while let frame = try decoder.nextFrame() { frames.append(frame) }
        }
        expectSameFrames(frames, stream.expected, "\(chunking.testDescription), \(feeding.rawValue)")
        #expect(decoder.bufferedByteCount == 0)
        #expect(try decoder.nextFrame() == nil)
    }

    @Test
    func bufferedByteCountFollowsEveryByte() throws {
        let stream = try SampleStream.make()
        var decoder = FrameDecoder(initialCapacity: 0)
        var frameIndex = 0
        var frameStart = 0
        for (offset, byte) in stream.bytes.enumerated() {
            decoder.append(CollectionOfOne(byte))
            let frame = try decoder.nextFrame()
            if offset + 1 == stream.frameEnds[frameIndex] {
                let complete = frame == stream.expected[frameIndex]
                #expect(complete, "frame \(frameIndex) completes at byte \(offset)")
                #expect(decoder.bufferedByteCount == 0)
                frameIndex += 1
                frameStart = offset + 1
            } else {
                #expect(frame?.body.count == nil, "byte \(offset) does not complete frame \(frameIndex)")
                #expect(decoder.bufferedByteCount == offset + 1 - frameStart)
            }
        }
        #expect(frameIndex == stream.expected.count)
    }

    @Test
    func withNextFrameBodyYieldsTheSameBodiesWithoutCopying() throws {
        let stream = try SampleStream.make()
        var decoder = FrameDecoder()
        decoder.append(stream.bytes)
        var frames: [Frame] = []
        while let frame = try decoder.withNextFrameBody({ body, compressed in
            Frame(body: Array(body), wasCompressed: compressed)
        }) {
            frames.append(frame)
        }
        expectSameFrames(frames, stream.expected)
    }

    @Test(arguments: [0, -1])
    func readIntoThatReadsNothingChangesNothing(result: Int) throws {
        var decoder = FrameDecoder()
        decoder.append(frameHeader(flags: 0, length: 3) + [7])
        let returned = decoder.readInto(maximum: 4096) { free in
            // A failed or empty read may still have scribbled on the free space.
            free.initializeMemory(as: UInt8.self, repeating: 0xEE)
            return result
        }
        #expect(returned == result)
        #expect(decoder.bufferedByteCount == FrameHeader.size + 1)
        #expect(try decoder.nextFrame() == nil)
        decoder.append([8, 9])
        #expect(try decoder.nextFrame() == Frame(body: [7, 8, 9]))
    }

    @Test
    func readIntoWritingLessThanOffered() throws {
        let wire = frameHeader(flags: 0, length: 4) + [1, 2, 3, 4] + frameHeader(flags: 0, length: 0)
        var decoder = FrameDecoder(initialCapacity: 0)
        var frames: [Frame] = []
        for byte in wire {
            _ = decoder.readInto(maximum: 64 * 1024) { free in
                free[0] = byte
                return 1
            }
            while let frame = try decoder.nextFrame() { frames.append(frame) }
        }
        #expect(frames == [Frame(body: [1, 2, 3, 4]), Frame(body: [])])
    }
}
