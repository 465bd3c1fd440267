@testable import PipeBusCore
import Testing
import PipeBusTasks

/// protobuf-c keeps every unknown field in an allocation of its own: a 4 MiB envelope of 2-byte
/// unknown fields took ~110 MB and seconds to unpack (measured with fuzz-envelope). The pre-scan
/// now bounds the fields of a message and of its submessages (WireScan.otherFieldsLimit = 64), so
/// such bodies are RESOURCE_EXHAUSTED before protobuf-c sees them, while a peer that adds a few
/// fields is still understood. The envelope on the hot path is decoded by hand
/// (Envelope+Wire.swift), which skips unknown fields without keeping them: for it a flood costs
/// only the time to step over it, and the envelope decodes.
@Suite("Unknown-field bound")
struct UnknownFieldBoundTests {
    /// Field 15 (unknown everywhere here) as a varint of 0: two bytes.
    static func unknownFields(_ count: Int) -> [UInt8] {
        (0..<count).flatMap { _ in [0x78, 0x00] as [UInt8] }
    }

    /// `bytes` as a length-delimited field `field`.
    static func lengthDelimited(_ field: UInt32, _ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [UInt8(field << 3 | 2)]
        var length = bytes.count
        repeat {
            out.append(UInt8(length & 0x7F) | (length >= 0x80 ? 0x80 : 0))
            length >>= 7
        } while length > 0
        return out + bytes
    }

    static func envelopeBytes(_ envelope: Envelope) -> [UInt8] {
        var bytes: [UInt8] = []
        envelope.serialize(into: &bytes)
        return bytes
    }

    @Test("a flood of unknown fields: RESOURCE_EXHAUSTED before protobuf-c, stepped over by the hand-written envelope decoder", arguments: [
        "top level", "hello", "metadata entry",
    ])
    func floodIsRefused(_ place: String) throws {
        let flood = Self.unknownFields(100_000)
        let base = Self.envelopeBytes(Envelope(streamID: 1, kind: .open, method: "/a.B/C"))
        let body: [UInt8] =
            switch place {
            case "top level": base + flood
            case "hello": base + Self.lengthDelimited(11, flood)
            default: base + Self.lengthDelimited(5, Self.lengthDelimited(1, Array("key".utf8)) + flood)
            }
        let error = try #require(throws: RPCError.self) {
            try body.withUnsafeBytes { try Envelope(protobufCBytes: $0) }
        }
        #expect(error.code == .resourceExhausted, "protobuf-c path: \(error)")
        // The hand-written decoder steps over the unknown fields and keeps none of them.
        let decoded = try Envelope(serializedBytes: body)
        #expect(decoded.streamID == 1 && decoded.kind == .open && decoded.method == "/a.B/C", "\(decoded)")
    }

    @Test("a connect record, a task list and an event with a flooded submessage are refused too")
    func floodInOtherMessages() throws {
        let flood = Self.unknownFields(1000)
        let record = Self.lengthDelimited(1, Array("id".utf8)) + Self.lengthDelimited(2, flood)
        #expect((try? ConnectRecord(serializedBytes: record)) == nil)
        let list = Self.lengthDelimited(1, flood)
        #expect(throws: RPCError.self) { try Pipebus_Tasks_V1_TaskList(serializedBytes: list) }
        let event = Self.lengthDelimited(4, flood)
        #expect(throws: RPCError.self) { try Pipebus_Tasks_V1_Event(serializedBytes: event) }
    }

    @Test("what a real peer sends still decodes: 128 metadata entries, a handshake, and a few fields we do not know")
    func realisticBodiesDecode() throws {
        var metadata = Metadata()
        for index in 0..<128 { metadata.add("key-\(index)", "value-\(index)") }
        let envelope = Envelope(
            streamID: 1, kind: .open, endStream: true, method: "/a.B/C", metadata: metadata, timeoutMicros: 5,
            message: [1, 2, 3], status: Status(code: .ok, message: "m"), pingData: 9, hello: Hello(peerName: "p", pid: 3)
        )
        let bytes = Self.envelopeBytes(envelope)
        #expect(try Envelope(serializedBytes: bytes) == envelope)
        // A newer peer's extra fields, at the top and in the handshake.
        let newer = bytes + Self.unknownFields(20) + Self.lengthDelimited(11, Self.unknownFields(20))
        #expect(try Envelope(serializedBytes: newer).metadata.count == 128)
    }
}
