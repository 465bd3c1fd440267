import Testing

@testable import PipeBusCore

/// An envelope with a name for the test report.
struct EnvelopeSample: Sendable, CustomTestStringConvertible {
    var name: String
    var envelope: Envelope

    var testDescription: String { name }

    static let all: [EnvelopeSample] = [
        EnvelopeSample(name: "defaults", envelope: Envelope(streamID: 0, kind: Kind(rawValue: 0))),
        EnvelopeSample(name: "largest stream id", envelope: Envelope(streamID: .max, kind: .message)),
        EnvelopeSample(name: "end stream", envelope: Envelope(streamID: 3, kind: .message, endStream: true)),
        EnvelopeSample(
            name: "open with method, metadata and deadline",
            envelope: Envelope(
                streamID: 1,
                kind: .open,
                method: "/pipebus.health.v1.Health/Check",
                metadata: richMetadata,
                timeoutMicros: 1_500_000,
                message: [0x0A, 0x00]
            )
        ),
        EnvelopeSample(name: "largest timeout", envelope: Envelope(streamID: 1, kind: .open, timeoutMicros: .max)),
        EnvelopeSample(name: "message absent", envelope: Envelope(streamID: 5, kind: .message, message: nil)),
        EnvelopeSample(name: "message empty", envelope: Envelope(streamID: 5, kind: .message, message: [])),
        EnvelopeSample(name: "message of one zero byte", envelope: Envelope(streamID: 5, kind: .message, message: [0])),
        EnvelopeSample(
            name: "close with trailers and a non-ASCII status",
            envelope: Envelope(
                streamID: 7,
                kind: .close,
                endStream: true,
                metadata: ["x-retry-after-ms": "250"],
                message: Array("last".utf8),
                status: Status(code: .deadlineExceeded, message: "délai dépassé — 超时 🚦 after 1.5 s")
            )
        ),
        EnvelopeSample(
            name: "cancel",
            envelope: Envelope(
                streamID: 9,
                kind: .cancel,
                status: Status(code: .cancelled, message: "client went away")
            )
        ),
        EnvelopeSample(name: "ping", envelope: Envelope(streamID: 0, kind: .ping, pingData: .max)),
        EnvelopeSample(name: "pong", envelope: Envelope(streamID: 0, kind: .pong, pingData: 0x0123_4567_89AB_CDEF)),
        EnvelopeSample(
            name: "goaway",
            envelope: Envelope(streamID: 41, kind: .goAway, status: Status(code: .unavailable, message: "draining"))
        ),
        EnvelopeSample(
            name: "hello with every field",
            envelope: Envelope(
                streamID: 0,
                kind: .hello,
                hello: Hello(
                    protocolVersion: 7,
                    maxFrameSize: .max,
                    compression: true,
                    peerName: "orchestrator — nœud 1",
                    pid: .max
                )
            )
        ),
        EnvelopeSample(
            name: "hello ack with every field zero",
            envelope: Envelope(
                streamID: 0,
                kind: .helloAck,
                hello: Hello(protocolVersion: 0, maxFrameSize: 0, compression: false, peerName: "", pid: 0)
            )
        ),
        EnvelopeSample(name: "everything at once", envelope: everythingAtOnce(messageSize: 300)),
        // Above 512 bytes the encoder appends the message as it is, between a head and a
        // tail written through a pointer: every field on both sides of it.
        EnvelopeSample(name: "everything at once, with a 5,000-byte message", envelope: everythingAtOnce(messageSize: 5_000)),
        // A head larger than the 16 KiB zero page the encoder grows its buffer from.
        EnvelopeSample(
            name: "a 20,000-byte metadata value and a small message",
            envelope: Envelope(
                streamID: 11,
                kind: .open,
                method: "/a.B/C",
                metadata: {
                    var metadata = Metadata()
                    metadata.add("big-bin", bytes: Payload.incompressible.bytes(20_000))
                    return metadata
                }(),
                message: [1, 2, 3]
            )
        ),
    ]

    /// Every field set, with an incompressible message of `messageSize` bytes.
    static func everythingAtOnce(messageSize: Int) -> Envelope {
        Envelope(
            streamID: 0xFFFF_FFFE,
            kind: .close,
            endStream: true,
            method: "/a.B/C",
            metadata: richMetadata,
            timeoutMicros: 42,
            message: Payload.incompressible.bytes(messageSize),
            status: Status(code: StatusCode(rawValue: 99), message: "ünknown"),
            pingData: 1,
            hello: Hello(peerName: "x", pid: 1)
        )
    }

    /// Text values, a repeated key, a mixed-case key and a `-bin` value holding every byte value.
    static let richMetadata: Metadata = {
        var metadata: Metadata = [
            MetadataKey.traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            MetadataKey.correlationID: "corr-ée-42",
        ]
        metadata.add("x-tag", "first")
        metadata.add("X-Tag", "second")
        metadata.add("trace-bin", bytes: (0...255).map { UInt8($0) })
        metadata.add("empty", "")
        return metadata
    }()
}

private typealias Kind = Envelope.Kind

/// Frames and decodes `envelope` through the real encoder and decoder; returns what came out.
private func roundTrip(
    _ envelope: Envelope,
    compression: Compression,
    maxFrameSize: Int = FrameHeader.defaultMaxFrameSize
) throws -> (envelope: Envelope, frame: Frame) {
    var encoder = FrameEncoder(maxFrameSize: maxFrameSize, compression: compression.policy)
    var wire: [UInt8] = []
    try appendFrame(carrying: envelope, with: &encoder, to: &wire)
    let frames = try decodeFrames(wire, maxFrameSize: maxFrameSize)
    try #require(frames.count == 1)
    return (try Envelope(serializedBytes: frames[0].body), frames[0])
}

/// The size of `envelope`'s protobuf body.
private func bodySize(_ envelope: Envelope) -> Int {
    var buffer: [UInt8] = []
    envelope.serialize(into: &buffer)
    return buffer.count
}

/// The size of a MESSAGE envelope's payload that makes its protobuf body exactly `limit` bytes.
private func largestMessageFitting(_ limit: Int) throws -> Int {
    func envelope(_ count: Int) -> Envelope {
        Envelope(streamID: 1, kind: .message, message: [UInt8](repeating: 0, count: count))
    }
    // The overhead (field tags, the payload's length varint) is the same for any payload whose
    // length needs as many varint bytes as the answer does, so one probe near the limit finds it.
    let probe = limit - 64
    let overhead = bodySize(envelope(probe)) - probe
    let answer = limit - overhead
    try #require(bodySize(envelope(answer)) == limit)
    return answer
}

@Suite("Envelope coding")
struct EnvelopeCodingTests {
    @Test(arguments: Compression.allCases, EnvelopeSample.all)
    func everyFieldRoundTrips(compression: Compression, sample: EnvelopeSample) throws {
        let (decoded, _) = try roundTrip(sample.envelope, compression: compression)
        #expect(decoded == sample.envelope)
    }

    /// Payload sizes below the limit; the largest envelope is `envelopeBodyOfExactlyTheLimit…`'s.
    @Test(arguments: Compression.allCases, Payload.allCases)
    func messagePayloadsRoundTripAtBoundarySizes(compression: Compression, payload: Payload) throws {
        for size in [0, 1, 4095, 4096, 64 * 1024] {
            let envelope = Envelope(
                streamID: 1,
                kind: .message,
                metadata: ["correlation-id": "c-1"],
                message: payload.bytes(size)
            )
            let (decoded, frame) = try roundTrip(envelope, compression: compression)
            let same = decoded == envelope
            #expect(same, "\(size) B: decoded message of \(decoded.message?.count ?? -1) bytes differs")
            if frame.wasCompressed {
                #expect(compression == .enabled)
            }
            if compression == .enabled, payload == .compressible, size >= 4095 {
                #expect(frame.wasCompressed, "\(size) B: a large compressible envelope is compressed")
            }
            if payload == .incompressible, size > 0 {
                #expect(!frame.wasCompressed, "\(size) B: noise is never worth compressing")
            }
        }
    }

    @Test(arguments: Compression.allCases, Payload.allCases)
    func envelopeBodyOfExactlyTheLimitFitsAndOneMoreByteDoesNot(compression: Compression, payload: Payload) throws {
        let limit = FrameHeader.defaultMaxFrameSize
        let count = try largestMessageFitting(limit)
        // stream_id, kind and flags take 2 bytes each, the message's tag 1 and its length 4.
        #expect(count == limit - 11)
        let fitting = Envelope(streamID: 1, kind: .message, message: payload.bytes(count))
        let (decoded, frame) = try roundTrip(fitting, compression: compression)
        #expect(frame.body.count == limit)
        #expect(frame.wasCompressed == (compression == .enabled && payload == .compressible))
        let same = decoded == fitting
        #expect(same)

        var encoder = FrameEncoder(compression: compression.policy)
        var wire: [UInt8] = []
        let tooLarge = Envelope(streamID: 1, kind: .message, message: payload.bytes(count + 1))
        let error = expectRPCError { try appendFrame(carrying: tooLarge, with: &encoder, to: &wire) }
        #expect(error?.code == .resourceExhausted)
        #expect(error?.message.contains("\(limit + 1) bytes") == true)
        // (Counted outside #expect, which would print a 4 MiB buffer on failure.)
        let leftBehind = wire.count
        #expect(leftBehind == 0, "a rejected frame leaves nothing behind")
    }

    @Test(arguments: (0...9).map { Kind(rawValue: $0) } + [Kind(rawValue: 42)])
    func everyKindRoundTrips(kind: Envelope.Kind) throws {
        let envelope = Envelope(streamID: 1, kind: kind)
        #expect(try roundTrip(envelope, compression: .disabled).envelope.kind == kind)
    }

    @Test(arguments: StatusCode.allCases + [StatusCode(rawValue: 17), StatusCode(rawValue: .max)])
    func everyStatusCodeRoundTrips(code: StatusCode) throws {
        let envelope = Envelope(streamID: 1, kind: .close, status: Status(code: code, message: "ß"))
        #expect(try roundTrip(envelope, compression: .disabled).envelope.status == Status(code: code, message: "ß"))
    }

    @Test
    func messageAbsentEmptyAndPresentStayDistinct() throws {
        let messages: [[UInt8]?] = [nil, [], [0], [1, 2, 3]]
        let decoded = try messages.map {
            try roundTrip(Envelope(streamID: 1, kind: .message, message: $0), compression: .disabled).envelope.message
        }
        #expect(decoded == messages)
    }

    @Test
    func metadataKeepsOrderRepeatedKeysAndBinaryValues() throws {
        let decoded = try roundTrip(
            Envelope(streamID: 1, kind: .open, metadata: EnvelopeSample.richMetadata),
            compression: .disabled
        ).envelope.metadata
        #expect(
            decoded.entries.map(\.key) == ["traceparent", "correlation-id", "x-tag", "x-tag", "trace-bin", "empty"]
        )
        #expect(decoded["X-TAG"] == "first")
        #expect(decoded.filter { $0.key == "x-tag" }.compactMap(\.text) == ["first", "second"])
        let binary = try #require(decoded.first { $0.key == "trace-bin" })
        #expect(binary.value == (0...255).map { UInt8($0) })
        #expect(binary.text == nil, "bytes 0x80-0xFF alone are not UTF-8")
        #expect(decoded["correlation-id"] == "corr-ée-42")
        #expect(decoded["empty"] == "")
    }

    @Test
    func helloIsPresentOnlyWhenSent() throws {
        let without = try roundTrip(Envelope(streamID: 0, kind: .hello), compression: .disabled).envelope
        #expect(without.hello == nil)
        let zero = Hello(protocolVersion: 0, maxFrameSize: 0, compression: false, peerName: "", pid: 0)
        let with = try roundTrip(Envelope(streamID: 0, kind: .hello, hello: zero), compression: .disabled).envelope
        #expect(with.hello == zero)
    }

    /// Bodies that are not a valid envelope: each must be INTERNAL, whether the top-level scan or
    /// protobuf-c itself rejects it.
    static let invalidBodies: [[UInt8]] = [
        [0xFF],  // a varint key that never ends
        [0x08, 0x80],  // stream_id whose varint is cut off
        [0x08] + [UInt8](repeating: 0xFF, count: 10) + [0x01],  // an 11-byte varint
        [0x00, 0x01],  // field number 0
        [0x0F],  // wire type 7
        [0x0B],  // wire type 3 (start group) is not proto3
        [0x3A, 0x05, 0x01],  // message claims 5 bytes, 1 remains
        [0x51, 0x00, 0x00],  // ping_data as fixed64 with 2 of 8 bytes
        [0x5A, 0x02, 0xFF, 0xFF],  // hello whose own body is garbage (only protobuf-c sees inside)
        [0x2A, 0x03, 0x0A, 0x05, 0x41],  // a metadata entry whose key runs past the entry
        [0x12, 0x01, 0x07],  // kind (an enum) sent length-delimited: protobuf-c rejects the wire type
    ]

    @Test(arguments: invalidBodies)
    func invalidProtobufIsInternal(body: [UInt8]) {
        let error = expectRPCError { try Envelope(serializedBytes: body) }
        #expect(error?.code == .internal)
        #expect(error?.message.contains("envelope") == true)
    }

    @Test
    func emptyBodyIsTheDefaultEnvelope() throws {
        #expect(try Envelope(serializedBytes: []) == Envelope(streamID: 0, kind: Kind(rawValue: 0)))
    }

    @Test
    func metadataEntriesAreBoundedBeforeUnpacking() throws {
        #expect(maxMetadataEntries == 128)
        func envelope(entries: Int) -> Envelope {
            var metadata = Metadata()
            for index in 0..<entries { metadata.add("k\(index)", "v") }
            return Envelope(streamID: 1, kind: .open, metadata: metadata)
        }
        let atLimit = envelope(entries: 128)
        #expect(try roundTrip(atLimit, compression: .disabled).envelope == atLimit)

        let overLimit = envelope(entries: 129).serializedBody()
        let error = expectRPCError { try Envelope(serializedBytes: overLimit) }
        #expect(error?.code == .resourceExhausted)
        #expect(error?.message.contains("128") == true)

        // The bound is checked by the top-level scan, before protobuf-c unpacks: followed by a
        // hello that protobuf-c would reject as INTERNAL, the answer is still RESOURCE_EXHAUSTED.
        let overLimitThenGarbage = overLimit + [0x5A, 0x02, 0xFF, 0xFF]
        #expect(expectRPCError { try Envelope(serializedBytes: overLimitThenGarbage) }?.code == .resourceExhausted)
        // And the same garbage after 128 entries is INTERNAL: the scan let it through, unpack refused it.
        let atLimitThenGarbage = atLimit.serializedBody() + [0x5A, 0x02, 0xFF, 0xFF]
        #expect(expectRPCError { try Envelope(serializedBytes: atLimitThenGarbage) }?.code == .internal)
    }
}

extension Envelope {
    fileprivate func serializedBody() -> [UInt8] {
        var buffer: [UInt8] = []
        serialize(into: &buffer)
        return buffer
    }
}
