import PipeBusCore

/// The codec scenario's peer: times envelope encode and decode in a process pinned to one CPU.
///
/// Encode is what a sender does per message (`FrameEncoder.appendFrame` with
/// `Envelope.serialize`, into a reused buffer); decode is what a reader does per frame
/// (`FrameDecoder.append`, `withNextFrameBody`, `Envelope(serializedBytes:)`).
enum CodecRole: PeerRole {
    struct Configuration: Codable, Sendable {
        var cases: [CodecCase]
        var batches: Int
        var batchMilliseconds: Int
    }

    struct Measurement: Codable, Sendable {
        var codecCase: CodecCase
        /// The encoded frame, header included.
        var frameSize: Int
        var wasCompressed: Bool
        var encodeNanoseconds: [Double]
        var encodeFramesPerBatch: Int
        var decodeNanoseconds: [Double]
        var decodeFramesPerBatch: Int
    }

    struct Report: Codable, Sendable {
        var measurements: [Measurement]
    }

    static let name = "codec"

    static func run(_ configuration: Configuration) async throws -> Report {
        let timer = BatchTimer(
            batches: configuration.batches,
            batchDuration: .milliseconds(configuration.batchMilliseconds)
        )
        var measurements: [Measurement] = []
        for codecCase in configuration.cases { measurements.append(try await measure(codecCase, with: timer)) }
        return Report(measurements: measurements)
    }

    private static func measure(_ codecCase: CodecCase, with timer: BatchTimer) async throws -> Measurement {
        let envelope = Envelope(streamID: 1, kind: .message, message: codecCase.makePayload())
        var encoder = FrameEncoder(compression: codecCase.compressionPolicy)
        var frame: [UInt8] = []
        try encoder.appendFrame(to: &frame) { envelope.serialize(into: &$0) }

        // Check the round trip once, outside the timing, so a broken codec can't look fast.
        var decoder = FrameDecoder()
        decoder.append(frame)
        let decoded = try decoder.withNextFrameBody { body, _ in try Envelope(serializedBytes: body) }
        guard decoded == envelope else {
            throw BenchError(
                "codec case \(codecCase.label) \(codecCase.payloadSize) B: the envelope did not round-trip"
            )
        }

        var buffer: [UInt8] = []
        buffer.reserveCapacity(frame.count * 2)
        let encode = try await timer.measure { count in
            var written = 0
            for _ in 0..<count {
                buffer.removeAll(keepingCapacity: true)
                try encoder.appendFrame(to: &buffer) { envelope.serialize(into: &$0) }
                written &+= buffer.count
            }
            return written
        }
        let decode = try await timer.measure { count in
            var received = 0
            for _ in 0..<count {
                decoder.append(frame)
                let envelope = try decoder.withNextFrameBody { body, _ in try Envelope(serializedBytes: body) }
                received &+= envelope?.message?.count ?? 0
            }
            return received
        }
        return Measurement(
            codecCase: codecCase,
            frameSize: frame.count,
            wasCompressed: frame[0] & FrameHeader.compressedFlag != 0,
            encodeNanoseconds: encode.nanosecondsPerOperation,
            encodeFramesPerBatch: encode.perBatch,
            decodeNanoseconds: decode.nanosecondsPerOperation,
            decodeFramesPerBatch: decode.perBatch
        )
    }
}
