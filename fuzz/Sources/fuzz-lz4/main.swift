import FuzzSupport
import PipeBusCore

// The LZ4 path: a compressed frame whose body (declared size + LZ4 block) is the input, and the
// encoder's compression of the input as a body.
//
// Invariants: a hostile compressed body either fails with INTERNAL or RESOURCE_EXHAUSTED, or
// decompresses to exactly its declared size, never above the limit; whatever the encoder
// compresses decodes back to the same bytes, and is sent compressed only when that is smaller.

private let limit = 64 * 1024

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzLZ4(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let input = FuzzInput(data, count)
    let body = input.rest

    // 1. The input as the body of a frame flagged compressed.
    var frame: [UInt8] = [FrameHeader.compressedFlag]
    let length = UInt32(body.count)
    frame += [UInt8(length >> 24), UInt8(truncatingIfNeeded: length >> 16), UInt8(truncatingIfNeeded: length >> 8), UInt8(truncatingIfNeeded: length)]
    frame += body
    var decoder = FrameDecoder(maxFrameSize: limit, initialCapacity: 0)
    decoder.append(frame)
    do {
        if let decoded = try decoder.nextFrame() {
            let declared = body.count >= 4 ? Int(body[0]) << 24 | Int(body[1]) << 16 | Int(body[2]) << 8 | Int(body[3]) : -1
            fuzzCheck(decoded.wasCompressed, "a compressed frame came back uncompressed")
            fuzzCheck(decoded.body.count == declared, "decompressed \(decoded.body.count) bytes, declared \(declared)")
            fuzzCheck(decoded.body.count <= limit, "decompressed past the limit")
        } else {
            fatalError("fuzz invariant: a whole frame was not returned")
        }
    } catch let error as RPCError {
        fuzzCheck(error.code == .internal || error.code == .resourceExhausted, "unexpected \(error)")
    } catch {
        fatalError("fuzz invariant: non-RPCError \(error)")
    }

    // 2. The input as a body the encoder may compress.
    guard body.count <= limit else { return 0 }
    var encoder = FrameEncoder(maxFrameSize: limit, compression: CompressionPolicy(isEnabled: true, threshold: 0))
    var wire: [UInt8] = []
    do {
        try encoder.append(body: body, to: &wire)
    } catch {
        fatalError("fuzz invariant: a body within the limit does not encode: \(error)")
    }
    fuzzCheck(wire.count <= FrameHeader.size + body.count, "compression made the frame larger")
    var roundTrip = FrameDecoder(maxFrameSize: limit, initialCapacity: 0)
    roundTrip.append(wire)
    let back = try? roundTrip.nextFrame()
    fuzzCheck(back?.body.elementsEqual(body) == true, "a compressed body did not decode to itself")
    return 0
}
