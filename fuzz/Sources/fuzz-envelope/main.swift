import FuzzSupport
import PipeBusCore

// The envelope decoder (protobuf-c behind a wire-format pre-scan), on any frame body.
// Invariants: no crash, no unbounded allocation; a decoded envelope's encoding decodes to an
// envelope that encodes to the same bytes; more than 128 metadata entries never decode.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzEnvelope(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let input = FuzzInput(data, count)
    guard let envelope = try? Envelope(serializedBytes: input.rest) else { return 0 }
    fuzzCheck(envelope.metadata.count <= 128, "an envelope with \(envelope.metadata.count) metadata entries decoded")
    _ = envelope.kind.description
    _ = envelope.status.description
    var encoded: [UInt8] = []
    envelope.serialize(into: &encoded)
    let again: Envelope
    do {
        again = try Envelope(serializedBytes: encoded)
    } catch {
        fatalError("fuzz invariant: an envelope does not decode its own encoding: \(error)")
    }
    var reencoded: [UInt8] = []
    again.serialize(into: &reencoded)
    fuzzCheck(reencoded == encoded, "an envelope encodes differently after a round trip")
    return 0
}
