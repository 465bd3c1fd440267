import PipeBusCore
import PipeBusEcho

/// The engine scenario's peer: the RPC engine's own CPU per unary call, with no syscalls.
///
/// A `ClientConnection` calls `unary(Pipebus_Testing_V1_Echo.Method.Echo.descriptor, …)` over a `ConnectionIO` that answers
/// every call at once with a ready-made CLOSE frame; a `ServerConnection` serves `EchoService`
/// from a `ConnectionIO` that hands it ready-made OPEN frames and drops what it writes. Both
/// are the public engines a real connection runs, so this is everything a call costs on one
/// side except the two syscalls, the context switch and the cache misses a real round trip
/// adds: the part of the `rtt` ratio that pipebus's code can change.
enum EngineRole: PeerRole {
    struct Configuration: Codable, Sendable {
        var payloadSize: Int
        var batches: Int
        var batchMilliseconds: Int
    }

    struct Report: Codable, Sendable {
        var clientNanoseconds: [Double]
        var clientCallsPerBatch: Int
        var serverNanoseconds: [Double]
        var serverCallsPerBatch: Int
    }

    static let name = "engine"

    static func run(_ configuration: Configuration) async throws -> Report {
        let timer = BatchTimer(batches: configuration.batches, batchDuration: .milliseconds(configuration.batchMilliseconds))
        let payload = PayloadContent.random.bytes(count: configuration.payloadSize)

        let replies = try ReplayIO(frame: Envelope(streamID: 0, kind: .close, endStream: true, message: payload))
        let client = try ClientConnection(io: replies, serverHello: Hello(peerName: "bench-engine"), metrics: TransportMetrics())
        let clientTimes = try await timer.measure { count in
            var received = 0
            for _ in 0..<count {
                let reply: [UInt8] = try await client.unary(Pipebus_Testing_V1_Echo.Method.Echo.descriptor, request: payload)
                received &+= reply.count
            }
            guard received == count * payload.count else { throw BenchError("engine: the client got \(received) bytes back for \(count) calls") }
            return received
        }

        var router = Router()
        router.register(EchoService())
        let request = Envelope(streamID: 0, kind: .open, endStream: true, method: Pipebus_Testing_V1_Echo.Method.Echo.descriptor.fullName, message: payload)
        let serverTimes = try await timer.measure { count in
            let requests = try ReplayIO(frame: request, count: count, hello: Hello(peerName: "bench-engine"))
            let reason = ServerConnection(io: requests, router: router, metrics: TransportMetrics()).run()
            guard reason == .peerClosed, requests.writes > count else {
                throw BenchError("engine: the server ended with \(reason) after \(requests.writes) writes for \(count) calls")
            }
            return requests.bytesWritten
        }
        return Report(
            clientNanoseconds: clientTimes.nanosecondsPerOperation,
            clientCallsPerBatch: clientTimes.perBatch,
            serverNanoseconds: serverTimes.nanosecondsPerOperation,
            serverCallsPerBatch: serverTimes.perBatch
        )
    }
}

/// A `ConnectionIO` whose every read returns one copy of a frame, stream ids 1, 3, 5, …
/// (a unary caller's ids, and what a server requires), optionally after a HELLO and up to a
/// count, then end of stream. Writes are counted and dropped. One thread at a time.
///
/// The stream id is the body's first field, written as a five-byte varint (a valid, if not
/// minimal, encoding) so that each read only patches those bytes.
final class ReplayIO: ConnectionIO, @unchecked Sendable {
    private var frame: [UInt8]
    private let hello: [UInt8]?
    private let count: Int?
    private var reads = 0
    private var nextStreamID: UInt32 = 1
    private(set) var bytesWritten = 0
    private(set) var writes = 0

    /// `frame` without a stream id (0, which is not encoded).
    init(frame envelope: Envelope, count: Int? = nil, hello: Hello? = nil) throws {
        precondition(envelope.streamID == 0)
        var body: [UInt8] = [0x08, 0, 0, 0, 0, 0]
        envelope.serialize(into: &body)
        var encoder = FrameEncoder(maxFrameSize: FrameHeader.defaultMaxFrameSize)
        var frame: [UInt8] = []
        try encoder.append(body: body, to: &frame)
        self.frame = frame
        self.count = count
        if let hello {
            var handshake: [UInt8] = []
            try encoder.appendFrame(to: &handshake) { Envelope(streamID: 0, kind: .hello, hello: hello).serialize(into: &$0) }
            self.hello = handshake
        } else {
            self.hello = nil
        }
    }

    func read(into decoder: inout FrameDecoder, timeout: Duration?) throws -> ReadOutcome {
        defer { reads += 1 }
        if let hello, reads == 0 { return append(hello, into: &decoder) }
        if let count, reads - (hello == nil ? 0 : 1) >= count { return .endOfStream }
        var id = nextStreamID
        nextStreamID &+= 2
        for index in 0..<5 {
            frame[FrameHeader.size + 1 + index] = UInt8(truncatingIfNeeded: id & 0x7F) | (index < 4 ? 0x80 : 0)
            id >>= 7
        }
        return append(frame, into: &decoder)
    }

    private func append(_ bytes: [UInt8], into decoder: inout FrameDecoder) -> ReadOutcome {
        _ = decoder.readInto(maximum: bytes.count) { buffer in
            bytes.withUnsafeBytes { buffer.copyMemory(from: $0) }
            return bytes.count
        }
        return .bytes(bytes.count)
    }

    func write(_ bytes: UnsafeRawBufferPointer, timeout: Duration) throws {
        bytesWritten &+= bytes.count
        writes &+= 1
    }

    func wake() {}
    func close() {}
}
