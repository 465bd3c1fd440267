import PipeBusCore
import PipeBusPipes
import PipeBusTestSupport
import Testing
import PipeBusHealth
import PipeBusEcho

#if canImport(Glibc)
import Glibc
#endif

extension PipeTransportTests {
    /// Bytes no well-behaved client sends, written straight into a live server's FIFOs: the server
    /// closes that one connection (or drops that one record) with a counted reason, and goes on
    /// serving everyone else (PROTOCOL.md §3, §6).
    @Suite
    struct MalformedInputTests {
        /// What a hostile or broken client writes.
        enum Garbage: String, CaseIterable, Sendable, CustomTestStringConvertible {
            /// Text where a frame header should be: the flags byte has reserved bits set.
            case garbageBytes
            /// A header declaring a 4 GiB body (0xFFFFFFFF): refused before anything is allocated.
            case oversizedLength
            /// A header declaring just over the 4 MiB limit.
            case limitPlusOne
            /// A header and half the body it declares, then end of stream.
            case halfFrameThenEOF
            /// A whole frame whose body is not a protobuf message.
            case undecodableBody

            var testDescription: String { rawValue }

            var bytes: [UInt8] {
                switch self {
                case .garbageBytes:
                    Array("GARBAGE \u{1}\u{2}\u{3} not a frame at all\r\n".utf8)
                        + (0..<200).map { UInt8(truncatingIfNeeded: $0 &* 37) }
                case .oversizedLength: [0x00, 0xFF, 0xFF, 0xFF, 0xFF] + [UInt8](repeating: 0x41, count: 64)
                case .limitPlusOne:
                    [0x00] + Self.bigEndian(UInt32(FrameHeader.defaultMaxFrameSize + 1))
                        + [UInt8](repeating: 0x41, count: 64)
                case .halfFrameThenEOF: [0x00, 0x00, 0x00, 0x00, 100] + [UInt8](repeating: 0x08, count: 50)
                case .undecodableBody: [0x00, 0x00, 0x00, 0x00, 8] + [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]
                }
            }

            /// `pipe_connection_errors_total{reason=…}` for this input on a connection.
            var connectionReason: String {
                switch self {
                case .garbageBytes, .oversizedLength, .limitPlusOne, .halfFrameThenEOF: "bad_frame"
                case .undecodableBody: "protocol_error"
                }
            }

            static func bigEndian(_ value: UInt32) -> [UInt8] {
                [
                    UInt8(value >> 24), UInt8(truncatingIfNeeded: value >> 16), UInt8(truncatingIfNeeded: value >> 8),
                    UInt8(truncatingIfNeeded: value),
                ]
            }
        }

        /// Written into one connection's `c2s`, before or after the client's HELLO.
        @Test(arguments: Garbage.allCases, [false, true])
        func garbageOnAConnection(_ garbage: Garbage, afterHello: Bool) async throws {
            let server = try TransportFixture.namedPipes.startServer()
            defer { server.stop() }
            let bystander = try await server.connect()
            defer { bystander.close() }
            #expect(try await bystander.unary(Pipebus_Testing_V1_Echo.Method.Echo.descriptor, request: [1], responseType: [UInt8].self) == [1])

            let raw = try await RawPipeClient.connect(to: server.pipeServer.directory, sendHello: afterHello)
            try raw.write(garbage.bytes)
            if garbage == .halfFrameThenEOF { raw.closeWriteEnd() }
            // The server closes this connection: end of stream on its reply FIFO.
            let answer = try await raw.readUntilEndOfStream(within: .seconds(5))
            #expect(answer.allSatisfy { $0.kind == .goAway }, "nothing but a GOAWAY may follow: \(answer.map(\.kind))")
            try await eventually("\(garbage.connectionReason) to be counted", timeout: .seconds(5)) {
                server.metrics.snapshot().connectionErrors[garbage.connectionReason, default: 0] == 1
            }
            #expect(
                server.metrics.snapshot().connectionErrors.values.reduce(0, +) == 1,
                "\(server.metrics.snapshot().connectionErrors)"
            )

            // Everyone else carries on: the connection that was there, and a new one.
            #expect(try await bystander.unary(Pipebus_Testing_V1_Echo.Method.Echo.descriptor, request: [2], responseType: [UInt8].self) == [2])
            let newcomer = try await server.connect()
            defer { newcomer.close() }
            let health = try await newcomer.unary(
                Pipebus_Health_V1_Health.Method.Check.descriptor,
                request: Pipebus_Health_V1_HealthCheckRequest(),
                responseType: Pipebus_Health_V1_HealthCheckResponse.self
            )
            #expect(health.status == .serving)
        }

        /// A valid frame at the wrong time: a call opened before the handshake, a frame kind only a
        /// server sends, an even stream id.
        @Test(arguments: ["OPEN before HELLO", "HELLO_ACK from a client", "even stream id"])
        func protocolViolationOnAConnection(_ violation: String) async throws {
            let server = try TransportFixture.namedPipes.startServer()
            defer { server.stop() }
            let raw = try await RawPipeClient.connect(
                to: server.pipeServer.directory,
                sendHello: violation != "OPEN before HELLO"
            )
            let envelope =
                switch violation {
                case "OPEN before HELLO":
                    Envelope(streamID: 1, kind: .open, endStream: true, method: Pipebus_Testing_V1_Echo.Method.Echo.descriptor.fullName, message: [1])
                case "HELLO_ACK from a client": Envelope(streamID: 0, kind: .helloAck, hello: Hello())
                default:
                    Envelope(streamID: 2, kind: .open, endStream: true, method: Pipebus_Testing_V1_Echo.Method.Echo.descriptor.fullName, message: [1])
                }
            try raw.write(RawPipeClient.frame(envelope))
            let answer = try await raw.readUntilEndOfStream(within: .seconds(5))
            #expect(!answer.contains { $0.kind == .close }, "the call must not be served: \(answer.map(\.kind))")
            try await eventually("protocol_error to be counted", timeout: .seconds(5)) {
                server.metrics.snapshot().connectionErrors["protocol_error", default: 0] == 1
            }
            let client = try await server.connect()
            defer { client.close() }
            #expect(try await client.unary(Pipebus_Testing_V1_Echo.Method.Echo.descriptor, request: [3], responseType: [UInt8].self) == [3])
        }

        /// Written into the well-known connect FIFO: the record is dropped and counted
        /// (`bad_connect_record`), and the next client connects at once.
        @Test(arguments: [
            "garbage bytes", "oversized length 0xFFFFFFFF", "length 4097", "half frame then EOF", "undecodable record",
            "connection id with a slash", "connection id ..", "empty connection id",
        ])
        func garbageOnTheConnectFIFO(_ garbage: String) async throws {
            let server = try TransportFixture.namedPipes.startServer()
            defer { server.stop() }
            let directory = server.pipeServer.directory
            let bytes: [UInt8] =
                switch garbage {
                case "garbage bytes": Garbage.garbageBytes.bytes
                case "oversized length 0xFFFFFFFF": Garbage.oversizedLength.bytes
                case "length 4097": [0x00] + Garbage.bigEndian(4097) + [UInt8](repeating: 0x0A, count: 100)
                case "half frame then EOF": Array(try RawPipeClient.connectRecordFrame(id: "half").prefix(12))
                case "undecodable record":
                    [0x00, 0x00, 0x00, 0x00, 8] + [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]
                case "connection id with a slash": try RawPipeClient.connectRecordFrame(id: "../../etc/evil")
                case "connection id ..": try RawPipeClient.connectRecordFrame(id: "..")
                default: try RawPipeClient.connectRecordFrame(id: "")
                }
            // One write, then close: for the half frame, that is its end of stream.
            try RawPipeClient.writeToConnectFIFO(bytes, in: directory)
            try await eventually("bad_connect_record to be counted", timeout: .seconds(5)) {
                server.metrics.snapshot().connectionErrors["bad_connect_record", default: 0] >= 1
            }
            let start = ContinuousClock.now
            let client = try await server.connect()
            defer { client.close() }
            #expect(try await client.unary(Pipebus_Testing_V1_Echo.Method.Echo.descriptor, request: [4], responseType: [UInt8].self) == [4])
            #expect(
                start.duration(to: .now) < PipeConnector.Configuration.defaults.connectTimeout,
                "the next client was held up"
            )
            #expect(try listDirectory(directory.path).allSatisfy { !$0.contains("evil") })
            #expect(server.metrics.snapshot().connectionErrors.keys.sorted() == ["bad_connect_record"])
        }
    }
}
