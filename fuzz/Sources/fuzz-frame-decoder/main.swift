import FuzzSupport
import PipeBusCore

// The frame decoder as a connection's reader thread drives it, on a hostile byte stream.
//
// Input: byte 0 picks the max frame size, byte 1 the read size (1–256 bytes per read), the rest
// is the stream. Invariants: feeding the stream whole and feeding it in reads give the same
// frames and the same error; a compressed frame decompresses to exactly its declared size; every
// frame re-encodes to a frame that decodes to the same body; every body may be offered to the
// envelope decoder (as the connection does) without crashing.

private let limits = [64, 4096, 64 * 1024, FrameHeader.defaultMaxFrameSize]

/// What decoding a stream produced: its frames, and the error that stopped it (if any).
private struct Outcome: Equatable {
    var frames: [Frame] = []
    var error: String?
}

private func drain(_ decoder: inout FrameDecoder, into outcome: inout Outcome) -> Bool {
    while true {
        do {
            guard let frame = try decoder.nextFrame() else { return true }
            outcome.frames.append(frame)
        } catch let error as RPCError {
            outcome.error = "\(error.code): \(error.message)"
            return false
        } catch {
            fatalError("fuzz invariant: the decoder threw a non-RPCError: \(error)")
        }
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzFrameDecoder(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    var input = FuzzInput(data, count)
    let limit = limits[Int(input.byte() % UInt8(limits.count))]
    let readSize = Int(input.byte()) + 1
    let stream = input.rest

    var whole = Outcome()
    var wholeDecoder = FrameDecoder(maxFrameSize: limit, initialCapacity: 0)
    wholeDecoder.append(stream)
    _ = drain(&wholeDecoder, into: &whole)

    // The same stream, read into the decoder's own buffer a few bytes at a time.
    var dripped = Outcome()
    var dripDecoder = FrameDecoder(maxFrameSize: limit, initialCapacity: 16)
    var offset = 0
    while offset < stream.count {
        let read = dripDecoder.readInto(maximum: readSize) { buffer in
            let n = min(buffer.count, stream.count - offset)
            buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: stream[offset..<(offset + n)]))
            return n
        }
        offset += read
        if !drain(&dripDecoder, into: &dripped) { break }
    }
    fuzzCheck(whole == dripped, "whole and dripped streams differ: \(whole) vs \(dripped)")
    var encoder = FrameEncoder(maxFrameSize: limit)
    for frame in whole.frames {
        fuzzCheck(frame.body.count <= limit, "a frame of \(frame.body.count) bytes passed a limit of \(limit)")
        var wire: [UInt8] = []
        do {
            try encoder.append(body: frame.body, to: &wire)
        } catch {
            fatalError("fuzz invariant: a decoded body does not re-encode: \(error)")
        }
        var again = FrameDecoder(maxFrameSize: limit, initialCapacity: 0)
        again.append(wire)
        let decoded = try? again.nextFrame()
        fuzzCheck(decoded?.body == frame.body, "a re-encoded frame decodes differently")
        _ = try? Envelope(serializedBytes: frame.body)
    }
    return 0
}
