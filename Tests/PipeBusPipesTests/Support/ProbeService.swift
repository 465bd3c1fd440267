import PipeBusCore
import PipeBusTestSupport
import Synchronization
import PipeBusEcho

/// Methods the transport tests need beyond EchoService: handlers that report what they saw
/// (metadata, cancellation) and that wait for the test (gates), through a `ProbeBoard`.
enum ProbeService {
    static let serviceName = "pipebus.test.v1.Probe"
    /// Inline unary: answers with the request metadata, encoded by `encode(_:)`.
    static let metadata = MethodDescriptor(service: serviceName, method: "Metadata")
    /// The same, as a task.
    static let metadataAsync = MethodDescriptor(service: serviceName, method: "MetadataAsync")
    /// Inline unary: throws RPCError with the code in the request's first byte and the rest of
    /// the request (UTF-8) as the message.
    static let fail = MethodDescriptor(service: serviceName, method: "Fail")
    /// The same, as a task.
    static let failAsync = MethodDescriptor(service: serviceName, method: "FailAsync")
    /// Unary task: the request is a key; signals the key's `arrived`, waits for its `released`,
    /// answers with the key. Lets a test hold a call in flight.
    static let gate = MethodDescriptor(service: serviceName, method: "Gate")
    /// Unary task: the request is a key; signals `arrived`, then waits until the task is
    /// cancelled and signals `cancelled`. Tells whether the server stops a handler.
    static let awaitCancel = MethodDescriptor(service: serviceName, method: "AwaitCancel")
    /// Server-streaming: sends the key once, signals `arrived`, then waits for cancellation as
    /// `awaitCancel` does.
    static let streamThenAwaitCancel = MethodDescriptor(service: serviceName, method: "StreamThenAwaitCancel")

    static func register(in router: inout Router, board: ProbeBoard) {
        router.registerInline(metadata, request: [UInt8].self, response: [UInt8].self) { _, context in
            encode(context.metadata)
        }
        router.registerUnary(metadataAsync, request: [UInt8].self, response: [UInt8].self) { _, context in
            encode(context.metadata)
        }
        router.registerInline(fail, request: [UInt8].self, response: [UInt8].self) { request, _ in
            throw error(from: request)
        }
        router.registerUnary(failAsync, request: [UInt8].self, response: [UInt8].self) { request, _ in
            throw error(from: request)
        }
        router.registerUnary(gate, request: [UInt8].self, response: [UInt8].self) { request, _ in
            let probe = board.probe(String(decoding: request, as: UTF8.self))
            probe.arrived.fulfill()
            try await probe.released.waitCancellably()
            return request
        }
        router.registerUnary(awaitCancel, request: [UInt8].self, response: [UInt8].self) { request, _ in
            let probe = board.probe(String(decoding: request, as: UTF8.self))
            probe.arrived.fulfill()
            await waitForCancellation()
            probe.cancelled.fulfill()
            throw CancellationError()
        }
        router.registerServerStreaming(streamThenAwaitCancel, request: [UInt8].self, response: [UInt8].self) {
            request,
            writer,
            _ in
            let probe = board.probe(String(decoding: request, as: UTF8.self))
            try await writer.write(request)
            probe.arrived.fulfill()
            await waitForCancellation()
            probe.cancelled.fulfill()
            throw CancellationError()
        }
    }

    /// The request of `fail`/`failAsync`.
    static func failRequest(_ code: StatusCode, _ message: String) -> [UInt8] {
        [UInt8(code.rawValue)] + Array(message.utf8)
    }

    private static func error(from request: [UInt8]) -> RPCError {
        RPCError(
            code: StatusCode(rawValue: UInt32(request.first ?? 2)),
            message: String(decoding: request.dropFirst(), as: UTF8.self)
        )
    }

    /// Metadata as bytes: per entry a 2-byte key length, the key, a 4-byte value length, the value.
    static func encode(_ metadata: Metadata) -> [UInt8] {
        var bytes: [UInt8] = []
        for entry in metadata {
            let key = Array(entry.key.utf8)
            bytes += [UInt8(key.count >> 8), UInt8(key.count & 0xFF)] + key
            let count = entry.value.count
            bytes += [UInt8(count >> 24), UInt8((count >> 16) & 0xFF), UInt8((count >> 8) & 0xFF), UInt8(count & 0xFF)]
            bytes += entry.value
        }
        return bytes
    }

    /// One decoded metadata entry.
    struct Entry: Hashable, Sendable {
        var key: String
        var value: [UInt8]
    }

    static func decode(_ bytes: [UInt8]) -> [Entry] {
        var entries: [Entry] = []
        var index = 0
        while index + 2 <= bytes.count {
            let keyCount = Int(bytes[index]) << 8 | Int(bytes[index + 1])
            index += 2
            let key = String(decoding: bytes[index..<(index + keyCount)], as: UTF8.self)
            index += keyCount
            let valueCount = bytes[index..<(index + 4)].reduce(0) { $0 << 8 | Int($1) }
            index += 4
            entries.append(Entry(key: key, value: Array(bytes[index..<(index + valueCount)])))
            index += valueCount
        }
        return entries
    }

    /// Suspends until the current task is cancelled.
    static func waitForCancellation() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: .seconds(3600))
        }
    }
}

/// What the probe handlers of one server saw, by the key in their request.
final class ProbeBoard: Sendable {
    final class Probe: Sendable {
        /// The handler is running (for streams: after its first response).
        let arrived = TestEvent<Void>()
        /// The test lets a `gate` handler answer.
        let released = TestEvent<Void>()
        /// The handler's task was cancelled.
        let cancelled = TestEvent<Void>()
    }

    private let probes = Mutex<[String: Probe]>([:])

    func probe(_ key: String) -> Probe {
        probes.withLock { probes in
            if let probe = probes[key] { return probe }
            let probe = Probe()
            probes[key] = probe
            return probe
        }
    }
}

extension TestEvent where Value == Void {
    /// Waits until fulfilled (at most a minute) or the task is cancelled (CancellationError).
    func waitCancellably() async throws {
        try await wait(.seconds(60), for: "the test to release the call")
    }
}
