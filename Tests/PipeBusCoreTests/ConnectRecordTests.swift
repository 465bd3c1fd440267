import PipeBusCore
import Testing

@Suite("Connect records")
struct ConnectRecordTests {
    @Test
    func roundTripsThroughAFrameThatFitsOneAtomicPipeWrite() throws {
        let record = ConnectRecord(
            connectionID: String(repeating: "a1_-Z", count: 12) + "abcd",
            hello: Hello(
                protocolVersion: Hello.currentProtocolVersion,
                maxFrameSize: 1 << 20,
                compression: true,
                peerName: String(repeating: "pipebus-cli ", count: 20),
                pid: 4_000_000
            )
        )
        #expect(ConnectRecord.isValidConnectionID(record.connectionID))
        #expect(record.connectionID.utf8.count == 64)

        var encoder = FrameEncoder(maxFrameSize: ConnectRecord.maxEncodedSize - FrameHeader.size)
        var wire: [UInt8] = []
        try encoder.appendFrame(to: &wire) { record.serialize(into: &$0) }
        #expect(wire.count <= ConnectRecord.maxEncodedSize)

        let frames = try decodeFrames(wire)
        try #require(frames.count == 1)
        #expect(try ConnectRecord(serializedBytes: frames[0].body) == record)
        #expect(try ConnectRecord(serializedBytes: record.serializedBytes()) == record)
    }

    @Test
    func recordWithoutAHandshakeIsRejected() {
        // Only the connection id, field 1: "abc".
        let error = expectRPCError { try ConnectRecord(serializedBytes: [0x0A, 0x03, 0x61, 0x62, 0x63]) }
        #expect(error?.code == .invalidArgument)
        #expect(expectRPCError { try ConnectRecord(serializedBytes: [UInt8]()) }?.code == .invalidArgument)
    }

    @Test(
        arguments: [
            [0xFF, 0xFF],
            [0x0A, 0x40, 0x61],  // the id claims 64 bytes, 1 remains
            [0x12, 0x02, 0xFF, 0xFF],  // a hello whose body is garbage
            [0x0A, 0x01, 0x61, 0x0F],  // wire type 7
        ] as [[UInt8]]
    )
    func garbageRecordIsInternal(body: [UInt8]) {
        #expect(expectRPCError { try ConnectRecord(serializedBytes: body) }?.code == .internal)
    }

    @Test
    func randomGarbageNeverCrashesAndOnlyThrowsRPCErrors() {
        var generator = SeededGenerator(seed: 0xC0_77EC7)
        let valid = ConnectRecord(connectionID: "conn-1", hello: Hello(peerName: "cli", pid: 7)).serializedBytes()
        var decodedCount = 0
        var codes: Set<StatusCode> = []
        for round in 0..<4000 {
            var body: [UInt8]
            if round.isMultiple(of: 2) {
                body = generator.bytes(Int.random(in: 0...48, using: &generator))
            } else {
                // A valid record with a few bytes changed reaches deeper into protobuf-c.
                body = valid
                for _ in 0..<Int.random(in: 1...3, using: &generator) {
                    body[Int.random(in: 0..<body.count, using: &generator)] = UInt8.random(
                        in: 0...255,
                        using: &generator
                    )
                }
            }
            do {
                _ = try ConnectRecord(serializedBytes: body)
                decodedCount += 1
            } catch let error as RPCError {
                codes.insert(error.code)
            } catch {
                Issue.record("round \(round): not an RPCError: \(error)")
            }
        }
        #expect(codes.isSubset(of: [.internal, .invalidArgument, .resourceExhausted]), "codes: \(codes)")
        #expect(codes.contains(.internal))
        #expect(decodedCount > 0, "some mutated records still decode, so the decoder was exercised")
    }

    @Test(arguments: [
        "", "../x", "..", ".", "a/b", "/etc", "a\\b", String(repeating: "a", count: 65), "a\0b", "\0", "a b",
        " a", "a\n", "a.b", ".hidden", "~", "é", "日本", "🚦", "１２３", "e\u{301}", "a\u{200B}b", "conn:1", "a*",
    ])
    func hostileConnectionIDsAreRejected(id: String) {
        #expect(!ConnectRecord.isValidConnectionID(id))
    }

    @Test(arguments: ["a", "Z", "0", "-", "_", "conn-1_A", String(repeating: "x", count: 64), "--", "__init__"])
    func plainConnectionIDsAreAccepted(id: String) {
        #expect(ConnectRecord.isValidConnectionID(id))
    }
}
