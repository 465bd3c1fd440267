public import PipeBusCore

/// Stops the run when an invariant does not hold: libFuzzer reports the abort as a crash and
/// saves the input that caused it.
public func fuzzCheck(
    _ condition: Bool,
    _ message: @autoclosure () -> String,
    file: StaticString = #fileID,
    line: UInt = #line
) {
    if !condition { fatalError("fuzz invariant: \(message())", file: file, line: line) }
}

/// Decodes `bytes` as `M`; when that succeeds, the message's own encoding must decode again and
/// encode to the same bytes (decode ∘ encode is stable).
public func checkRoundTrip<M: MessageCodable>(_ type: M.Type, _ bytes: UnsafeRawBufferPointer) {
    guard let message = try? M(serializedBytes: bytes) else { return }
    let encoded = message.serializedBytes()
    let again: M
    do {
        again = try M(serializedBytes: encoded)
    } catch {
        fatalError("fuzz invariant: \(M.self) does not decode its own encoding (\(encoded.count) bytes): \(error)")
    }
    let reencoded = again.serializedBytes()
    fuzzCheck(reencoded == encoded, "\(M.self) encodes differently after a round trip: \(encoded) vs \(reencoded)")
}

/// Reads the fuzzer's input front to back: selector bytes first, the rest as the payload.
public struct FuzzInput {
    public let bytes: UnsafeRawBufferPointer
    public private(set) var offset = 0

    public init(_ data: UnsafePointer<UInt8>?, _ count: Int) {
        bytes = UnsafeRawBufferPointer(start: count > 0 ? data : nil, count: count)
    }

    /// The next byte, or 0 when the input is used up.
    public mutating func byte() -> UInt8 {
        guard offset < bytes.count else { return 0 }
        defer { offset += 1 }
        return bytes[offset]
    }

    /// Whatever is left.
    public var rest: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: bytes[offset...])
    }
}
