import Testing

/// A deterministic random number generator (SplitMix64), so that every "random" test input is the
/// same on every run and a failure can be reproduced from its seed.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// `count` bytes of noise: LZ4 cannot shrink them.
    mutating func bytes(_ count: Int) -> [UInt8] {
        // Eight bytes per word, written straight into the array: debug builds are slow per element.
        [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            let raw = UnsafeMutableRawBufferPointer(buffer)
            var offset = 0
            while offset < count {
                var word = next().littleEndian
                let take = min(8, count - offset)
                withUnsafeBytes(of: &word) {
                    (raw.baseAddress! + offset).copyMemory(from: $0.baseAddress!, byteCount: take)
                }
                offset += take
            }
            initialized = count
        }
    }
}

/// Payloads of a given size in two flavours: text that LZ4 shrinks well, and seeded noise it cannot.
enum Payload: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case compressible
    case incompressible

    func bytes(_ count: Int, seed: UInt64 = 0x5EED) -> [UInt8] {
        switch self {
        case .compressible:
            let line = Array(#"{"task_id":"t-000042","state":"pending","worker":"marie"}\#n"#.utf8)
            var result: [UInt8] = []
            result.reserveCapacity(count)
            while result.count < count { result += line.prefix(count - result.count) }
            return result
        case .incompressible:
            var generator = SeededGenerator(seed: seed &+ UInt64(count))
            return generator.bytes(count)
        }
    }

    var testDescription: String { rawValue }
}
