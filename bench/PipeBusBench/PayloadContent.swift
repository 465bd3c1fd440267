/// What a benchmark payload is made of: the same bytes on every run.
enum PayloadContent: String, Codable, Sendable, CaseIterable {
    /// JSON task records like the ones the bus carries: LZ4 shrinks them several times.
    case compressible
    /// Bytes LZ4 cannot shrink, so an encoder pays for the attempt and sends them as they are.
    case random

    /// `count` bytes of this content.
    func bytes(count: Int) -> [UInt8] {
        switch self {
        case .compressible:
            var bytes: [UInt8] = []
            bytes.reserveCapacity(count + 128)
            var index = 0
            while bytes.count < count {
                let record = #"{"id":"task-\#(index)","state":"active","worker":"marie","attempts":1,"batch_size":10},"#
                bytes.append(contentsOf: record.utf8)
                index += 1
            }
            return Array(bytes.prefix(count))
        case .random:
            // SplitMix64 with a fixed seed: incompressible, yet reproducible.
            var state: UInt64 = 0x9E37_79B9_7F4A_7C15
            var bytes: [UInt8] = []
            bytes.reserveCapacity(count + 8)
            while bytes.count < count {
                state &+= 0x9E37_79B9_7F4A_7C15
                var z = state
                z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
                z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
                z ^= z >> 31
                withUnsafeBytes(of: z) { bytes.append(contentsOf: $0) }
            }
            return Array(bytes.prefix(count))
        }
    }
}
