import PipeBusCore

/// One case of the codec scenario: a payload size, its content, and whether the encoder may
/// compress it.
struct CodecCase: Codable, Sendable, Hashable {
    enum Content: String, Codable, Sendable, CaseIterable {
        /// JSON task records like the ones the bus carries: LZ4 shrinks them several times.
        case compressible
        /// Bytes LZ4 cannot shrink, so the encoder pays for the attempt and sends them as they are.
        case random
    }

    var payloadSize: Int
    var content: Content
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
        switch content {
        case .compressible:
            var bytes: [UInt8] = []
            bytes.reserveCapacity(payloadSize + 128)
            var index = 0
            while bytes.count < payloadSize {
                let record = #"{"id":"task-\#(index)","state":"active","worker":"marie","attempts":1,"batch_size":10},"#
                bytes.append(contentsOf: record.utf8)
                index += 1
            }
            return Array(bytes.prefix(payloadSize))
        case .random:
            // SplitMix64 with a fixed seed: incompressible, yet reproducible.
            var state: UInt64 = 0x9E37_79B9_7F4A_7C15
            var bytes: [UInt8] = []
            bytes.reserveCapacity(payloadSize + 8)
            while bytes.count < payloadSize {
                state &+= 0x9E37_79B9_7F4A_7C15
                var z = state
                z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
                z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
                z ^= z >> 31
                withUnsafeBytes(of: z) { bytes.append(contentsOf: $0) }
            }
            return Array(bytes.prefix(payloadSize))
        }
    }

    /// Every combination at 64 B and 64 KiB.
    static let all: [CodecCase] = [64, 64 * 1024].flatMap { size in
        [false, true].flatMap { compression in
            Content.allCases.map { CodecCase(payloadSize: size, content: $0, compressionEnabled: compression) }
        }
    }
}
