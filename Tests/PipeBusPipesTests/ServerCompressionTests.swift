import PipeBusCore
import PipeBusPipes
import PipeBusTestSupport
import Testing
import PipeBusEcho

#if canImport(Glibc)
import Glibc
#endif

extension PipeTransportTests {
    /// The server compresses a reply body above the threshold when the client's HELLO says it
    /// decodes LZ4 and the result is smaller (PROTOCOL.md §3), seen on the wire by a raw client:
    /// the frame's flag bit, and the body decoding to the bytes sent. Issue 15, item 6: the
    /// server never compressed.
    @Suite
    struct ServerCompressionTests {
        /// ~1 MiB that LZ4 shrinks many times over.
        static let compressible = Array(String(repeating: "compressible ", count: 80 * 1024).utf8)

        /// Sends one unary Echo of `payload` on a raw connection whose HELLO offers LZ4 or not;
        /// the frames of the reply as read off `s2c`, and their envelopes.
        static func echo(_ payload: [UInt8], clientDecodesLZ4: Bool) async throws -> [(frame: Frame, envelope: Envelope)] {
            let server = try TransportFixture.namedPipes.startServer()
            defer { server.stop() }
            let raw = try await RawPipeClient.connect(to: server.pipeServer.directory, sendHello: false)
            let hello = Hello(compression: clientDecodesLZ4, peerName: "raw-test-client", pid: UInt32(getpid()))
            try raw.write(RawPipeClient.frame(Envelope(streamID: 0, kind: .hello, hello: hello)))
            // Read while writing: a reply larger than the pipe's buffer waits for its reader.
            let readFD = raw.readFD
            async let reply = readFramesUntilClose(readFD)
            try raw.write(
                RawPipeClient.frame(
                    Envelope(streamID: 1, kind: .open, endStream: true, method: Pipebus_Testing_V1_Echo.Method.Echo.descriptor.fullName, message: payload)
                )
            )
            let frames = try await reply
            withExtendedLifetime(raw) {}  // its deinit closes the FIFO being read
            return frames
        }

        /// Frames off `fd` (decompressed, each still saying whether it came compressed) up to
        /// the first CLOSE.
        static func readFramesUntilClose(_ fd: Int32) async throws -> [(frame: Frame, envelope: Envelope)] {
            try await onThread("test-raw-frames") {
                var decoder = FrameDecoder()
                var read: [(frame: Frame, envelope: Envelope)] = []
                let limit = Duration.seconds(30)
                let giveUp = ContinuousClock.now + limit
                while true {
                    while let frame = try decoder.nextFrame() {
                        read.append((frame, try Envelope(serializedBytes: frame.body)))
                    }
                    if read.contains(where: { $0.envelope.kind == .close }) { return read }
                    guard ContinuousClock.now < giveUp else {
                        throw TimeoutError(what: "a CLOSE (got \(read.map(\.envelope.kind)))", limit: limit)
                    }
                    var fds = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0)]
                    _ = poll(&fds, 1, 100)
                    let count = decoder.readInto(maximum: 256 * 1024) { Glibc.read(fd, $0.baseAddress, $0.count) }
                    if count == 0 {
                        throw RPCError(code: .unavailable, message: "the server closed (got \(read.map(\.envelope.kind)))")
                    }
                }
            }
        }

        static func reply(_ frames: [(frame: Frame, envelope: Envelope)]) -> (frame: Frame, envelope: Envelope)? {
            frames.first { $0.envelope.streamID == 1 && $0.envelope.message != nil }
        }

        @Test
        func largeCompressibleReplyToAnLZ4ClientArrivesCompressed() async throws {
            let frames = try await Self.echo(Self.compressible, clientDecodesLZ4: true)
            let reply = try #require(Self.reply(frames), "\(frames.map(\.envelope.kind))")
            let wasCompressed = reply.frame.wasCompressed  // (the frame itself would print 1 MiB)
            #expect(wasCompressed, "the ~1 MiB compressible reply came uncompressed")
            #expect(reply.envelope.message == Self.compressible)
            #expect(frames.last?.envelope.status.code == .ok)
        }

        @Test
        func smallReplyIsNotCompressed() async throws {
            let payload = [UInt8](repeating: 0x61, count: 64)
            let frames = try await Self.echo(payload, clientDecodesLZ4: true)
            let reply = try #require(Self.reply(frames), "\(frames.map(\.envelope.kind))")
            #expect(!reply.frame.wasCompressed)
            #expect(reply.envelope.message == payload)
        }

        /// Above the threshold but incompressible: LZ4 would make it larger, so it goes as it is.
        @Test
        func incompressibleReplyIsNotCompressed() async throws {
            var generator = SystemRandomNumberGenerator()
            let payload = (0..<(64 * 1024)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            let frames = try await Self.echo(payload, clientDecodesLZ4: true)
            let reply = try #require(Self.reply(frames), "\(frames.map(\.envelope.kind))")
            #expect(!reply.frame.wasCompressed)
            #expect(reply.envelope.message == payload)
        }

        @Test
        func clientThatDoesNotDecodeLZ4NeverGetsACompressedFrame() async throws {
            let frames = try await Self.echo(Self.compressible, clientDecodesLZ4: false)
            let reply = try #require(Self.reply(frames), "\(frames.map(\.envelope.kind))")
            #expect(frames.allSatisfy { !$0.frame.wasCompressed })
            #expect(reply.envelope.message == Self.compressible)
        }
    }
}
