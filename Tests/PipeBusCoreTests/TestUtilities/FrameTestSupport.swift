import PipeBusCore
import Testing

/// The two compression settings every round trip runs under: off, and on for every body size.
enum Compression: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case disabled
    case enabled

    var policy: CompressionPolicy {
        switch self {
        case .disabled: .disabled
        case .enabled: CompressionPolicy(isEnabled: true, threshold: 0)
        }
    }

    var testDescription: String { "compression \(rawValue)" }
}

/// Frames `envelope` as a connection does: protobuf packed straight into the output buffer.
func appendFrame(
    carrying envelope: Envelope,
    with encoder: inout FrameEncoder,
    to buffer: inout [UInt8]
) throws {
    try encoder.appendFrame(to: &buffer) { envelope.serialize(into: &$0) }
}

/// The bytes of a frame header, built by hand so that tests can declare what the encoder never would.
func frameHeader(flags: UInt8, length: UInt32) -> [UInt8] {
    [flags] + bigEndianBytes(length)
}

func bigEndianBytes(_ value: UInt32) -> [UInt8] {
    [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)]
}

/// The body length a header at `offset` of `wire` declares.
func declaredLength(in wire: [UInt8], at offset: Int = 0) -> Int {
    wire[(offset + 1)...(offset + 4)].reduce(0) { $0 << 8 | Int($1) }
}

/// A compressed frame for `body`, as the encoder makes it (the test fails if the encoder declines
/// to compress it).
func compressedFrame(of body: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) throws -> [UInt8] {
    var encoder = FrameEncoder(compression: Compression.enabled.policy)
    var wire: [UInt8] = []
    try encoder.append(body: body, to: &wire)
    try #require(wire[0] == FrameHeader.compressedFlag, "the encoder did not compress", sourceLocation: sourceLocation)
    return wire
}

/// Every frame a decoder yields from `bytes`, all appended at once.
func decodeFrames(_ bytes: [UInt8], maxFrameSize: Int = FrameHeader.defaultMaxFrameSize) throws -> [Frame] {
    var decoder = FrameDecoder(maxFrameSize: maxFrameSize)
    decoder.append(bytes)
    var frames: [Frame] = []
    while let frame = try decoder.nextFrame() { frames.append(frame) }
    return frames
}

/// Runs `body` expecting an `RPCError` and returns it; records a failure (and returns nil) when
/// `body` succeeds or throws anything else.
func expectRPCError<R>(
    _ comment: Comment? = nil,
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () throws -> R
) -> RPCError? {
    do {
        // Only the type: a result may be megabytes of frames.
        _ = try body()
        Issue.record("expected an RPCError, got a result of type \(R.self)", sourceLocation: sourceLocation)
    } catch let error as RPCError {
        return error
    } catch {
        Issue.record("expected an RPCError, got \(type(of: error)): \(error)", sourceLocation: sourceLocation)
    }
    return nil
}

/// Compares frame lists without printing megabytes of bytes when they differ.
func expectSameFrames(
    _ actual: [Frame],
    _ expected: [Frame],
    _ comment: Comment? = nil,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    guard actual.count == expected.count else {
        Issue.record(
            "got \(actual.count) frames, expected \(expected.count) \(comment.map { "(\($0))" } ?? "")",
            sourceLocation: sourceLocation
        )
        return
    }
    for (index, (got, want)) in zip(actual, expected).enumerated() where got != want {
        let firstDifference =
            zip(got.body.indices, zip(got.body, want.body)).first { $0.1.0 != $0.1.1 }?.0
            ?? min(got.body.count, want.body.count)
        Issue.record(
            """
            frame \(index) differs \(comment.map { "(\($0))" } ?? ""): \(got.body.count) bytes \
            (compressed: \(got.wasCompressed)) vs expected \(want.body.count) bytes \
            (compressed: \(want.wasCompressed)), first difference at byte \(firstDifference)
            """,
            sourceLocation: sourceLocation
        )
    }
}
