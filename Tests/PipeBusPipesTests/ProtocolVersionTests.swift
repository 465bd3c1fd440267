import PipeBusCore
import PipeBusPipes
import PipeBusTestSupport
import Testing
import PipeBusEcho

#if canImport(Glibc)
import Glibc
#endif

extension PipeTransportTests {
    /// A client of another protocol version is told so, as PROTOCOL.md §2 says: GOAWAY with
    /// FAILED_PRECONDITION naming both versions, then end of file, wherever the version shows
    /// (the connect record or the HELLO). Issue 15, item 6: both used to end in a bare close.
    @Suite
    struct ProtocolVersionTests {
        static let unsupported = Hello.currentProtocolVersion + 1

        /// `GOAWAY` with FAILED_PRECONDITION naming the supported version and `received`.
        static func expectVersionRefusal(_ answer: [Envelope], received: UInt32) {
            let goAways = answer.filter { $0.kind == .goAway }
            #expect(goAways.count == 1, "expected one GOAWAY before end of file, got \(answer.map(\.kind))")
            guard let goAway = goAways.first else { return }
            #expect(goAway.status.code == .failedPrecondition, "\(goAway.status)")
            #expect(goAway.status.message.contains("\(received)"), "\(goAway.status.message)")
            #expect(goAway.status.message.contains("\(Hello.currentProtocolVersion)"), "\(goAway.status.message)")
            #expect(!answer.contains { $0.kind == .close }, "\(answer.map(\.kind))")
        }

        @Test
        func unsupportedVersionInHelloGetsGoAwayFailedPrecondition() async throws {
            let server = try TransportFixture.namedPipes.startServer()
            defer { server.stop() }
            let raw = try await RawPipeClient.connect(to: server.pipeServer.directory, sendHello: false)
            let hello = Hello(protocolVersion: Self.unsupported, peerName: "raw-test-client", pid: UInt32(getpid()))
            try raw.write(RawPipeClient.frame(Envelope(streamID: 0, kind: .hello, hello: hello)))
            let answer = try await raw.readUntilEndOfStream(within: .seconds(10))
            Self.expectVersionRefusal(answer, received: Self.unsupported)
            try await eventually("protocol_error to be counted", timeout: .seconds(5)) {
                server.metrics.snapshot().connectionErrors["protocol_error", default: 0] == 1
            }
            // The server serves others as before.
            let client = try await server.connect()
            defer { client.close() }
            #expect(try await client.unary(Pipebus_Testing_V1_Echo.Method.Echo.descriptor, request: [7], responseType: [UInt8].self) == [7])
        }

        /// The connect record's `hello` speaks first: the server's first frame on `s2c` is the
        /// GOAWAY (PROTOCOL.md §2 step 5), with no HELLO_ACK, and the refusal is counted.
        @Test
        func unsupportedVersionInConnectRecordGetsGoAwayInsteadOfHelloAck() async throws {
            let server = try TransportFixture.namedPipes.startServer()
            defer { server.stop() }
            let directory = server.pipeServer.directory
            let id = RawPipeClient.newID()
            try RawPipeClient.makeFIFO(directory.path + "/\(id).c2s")
            try RawPipeClient.makeFIFO(directory.path + "/\(id).s2c")
            let readFD = try RawPipeClient.openFIFO(directory.path + "/\(id).s2c", O_RDONLY)
            defer { close(readFD) }
            var record: [UInt8] = []
            var encoder = FrameEncoder(maxFrameSize: ConnectRecord.maxEncodedSize - FrameHeader.size)
            let hello = Hello(protocolVersion: Self.unsupported, peerName: "raw-test-client", pid: UInt32(getpid()))
            try encoder.append(body: ConnectRecord(connectionID: id, hello: hello).serializedBytes(), to: &record)
            try RawPipeClient.writeToConnectFIFO(record, in: directory)

            let answer = try await RawPipeClient.readFrames(readFD, until: { _ in false }, within: .seconds(10), endOfStreamEnds: true)
            #expect(answer.first?.kind == .goAway, "\(answer.map(\.kind))")
            #expect(!answer.contains { $0.kind == .helloAck }, "\(answer.map(\.kind))")
            Self.expectVersionRefusal(answer, received: Self.unsupported)
            try await eventually("protocol_error to be counted", timeout: .seconds(5)) {
                server.metrics.snapshot().connectionErrors["protocol_error", default: 0] == 1
            }
            // Refused, not served: no connection stays open, and the pair is gone from the directory.
            #expect(server.pipeServer.connectionCount == 0)
            try await eventually("the refused client's FIFOs to be removed", timeout: .seconds(5)) {
                access(directory.path + "/\(id).c2s", F_OK) != 0 && access(directory.path + "/\(id).s2c", F_OK) != 0
            }
            let client = try await server.connect()
            defer { client.close() }
            #expect(try await client.unary(Pipebus_Testing_V1_Echo.Method.Echo.descriptor, request: [8], responseType: [UInt8].self) == [8])
        }
    }
}
