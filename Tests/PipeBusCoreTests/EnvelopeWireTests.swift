import Testing

@testable import PipeBusCore

/// The hand-written envelope codec against protobuf-c's (the reference): the same bytes out,
/// the same envelope or the same status code back, for valid and hostile bodies.
@Suite struct EnvelopeWireTests {
    @Test(arguments: EnvelopeSample.all)
    func encodesAsProtobufCDoes(sample: EnvelopeSample) {
        var mine: [UInt8] = [0xAA]
        sample.envelope.serialize(into: &mine)
        var reference: [UInt8] = [0xAA]
        sample.envelope.serializeWithProtobufC(into: &reference)
        #expect(mine == reference)
    }

    @Test(arguments: EnvelopeSample.all)
    func decodesWhatProtobufCEncodes(sample: EnvelopeSample) throws {
        var reference: [UInt8] = []
        sample.envelope.serializeWithProtobufC(into: &reference)
        #expect(try Envelope(serializedBytes: reference) == sample.envelope)
    }

    /// Bodies protobuf-c's encoder never writes but a peer may: repeated scalars (the last
    /// wins), a repeated hello (the last wins, not merged, in protobuf-c 1.4), unknown fields of every wire type, embedded NULs and
    /// invalid UTF-8, enum values out of range, non-minimal varints, wrong wire types.
    static let unusualBodies: [[UInt8]] = [
        [0x08, 0x01, 0x08, 0x02],
        [0x5A, 0x02, 0x08, 0x07, 0x5A, 0x02, 0x28, 0x09],
        [0x5A, 0x02, 0x22, 0x00],
        [0x78, 0x05, 0x79] + [UInt8](repeating: 1, count: 8) + [0x7D, 1, 2, 3, 4, 0x7A, 0x01, 0x00, 0x08, 0x03],
        [0x22, 0x03, 0x61, 0x00, 0x62],
        [0x4A, 0x02, 0xC3, 0x28],
        [0x10, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F],
        [0x10, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01],
        [0x08, 0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00],
        [0x18, 0x03, 0x3A, 0x00],
        [0x18, 0x01],
        [0x2A, 0x00, 0x2A, 0x04, 0x0A, 0x00, 0x12, 0x00],
        [0x2A, 0x05, 0x0A, 0x01, 0x41, 0x18, 0x01],
        [0x0A, 0x01, 0x05],
        [0x12, 0x01, 0x07],
        [0x2A, 0x02, 0x08, 0x01],
        [0x5A, 0x02, 0x22, 0x01],
        [0x5A, 0x02, 0x25, 0x01],
        [0x5A, 0x03, 0x22, 0x01, 0x41, 0x0A, 0x01],
        [0x51, 1, 2, 3, 4, 5, 6, 7, 8],
        [0x12, 0x01, 0x07] + Array(repeating: [0x2A, 0x00], count: 129).flatMap { $0 },
    ]

    @Test(arguments: unusualBodies)
    func answersAsProtobufCDoes(body: [UInt8]) {
        let mine = Result { try Envelope(serializedBytes: body) }
        let reference = Result { try body.withUnsafeBytes { try Envelope(protobufCBytes: $0) } }
        switch (mine, reference) {
        case (.success(let mine), .success(let reference)):
            #expect(mine == reference)
        case (.failure(let mine), .failure(let reference)):
            #expect((mine as? RPCError)?.code == (reference as? RPCError)?.code)
        default:
            Issue.record("hand-written: \(mine), protobuf-c: \(reference)")
        }
    }
}
