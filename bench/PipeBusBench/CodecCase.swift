import PipeBusCore

/// One case of the codec scenario: a payload size, its content, and whether the encoder may
/// compress it.
struct CodecCase: Codable, Sendable, Hashable {
    var payloadSize: Int
    var content: PayloadContent
    var compressionEnabled: Bool

    /// "lz4 random", "plain compressible".
    var label: String {
        (compressionEnabled ? "lz4 " : "plain ") + content.rawValue
    }

    /// Threshold 0: compress every body, so that small frames show what compression costs them.
    var compressionPolicy: CompressionPolicy {
        compressionEnabled ? CompressionPolicy(isEnabled: true, threshold: 0) : .disabled
    }

    /// The payload, the same on every run.
    func makePayload() -> [UInt8] {
        content.bytes(count: payloadSize)
    }

    /// Every combination at 64 B and 64 KiB.
    static let all: [CodecCase] = [64, 64 * 1024].flatMap { size in
        [false, true].flatMap { compression in
            PayloadContent.allCases.map { CodecCase(payloadSize: size, content: $0, compressionEnabled: compression) }
        }
    }
}
