/// A service for measuring and testing a connection: payloads are raw bytes, returned as
/// they came. A sidecar serves it too, so `pipebus-bench` and operators can measure the pipe of
/// a live deployment.
public enum EchoService {
    public static let serviceName = "pipebus.testing.v1.Echo"
    /// Unary, inline on the reader thread: the request's bytes back.
    public static let echo = MethodDescriptor(service: serviceName, method: "Echo")
    /// Unary, as a task: the request's bytes back (measures the async-handler path).
    public static let echoAsync = MethodDescriptor(service: serviceName, method: "EchoAsync")
    /// Unary: sleeps for the number of milliseconds in the request (big-endian UInt32), honouring
    /// cancellation, then answers with an empty message.
    public static let sleep = MethodDescriptor(service: serviceName, method: "Sleep")
    /// Server-streaming: the request is a big-endian UInt32 count followed by a payload; the
    /// payload is sent back count times.
    public static let repeatPayload = MethodDescriptor(service: serviceName, method: "Repeat")
    /// Client-streaming: answers with the concatenation of the requests.
    public static let collect = MethodDescriptor(service: serviceName, method: "Collect")
    /// Bidirectional: each request's bytes back, as they arrive.
    public static let chat = MethodDescriptor(service: serviceName, method: "Chat")

    /// Adds the echo methods to `router`.
    public static func register(in router: inout Router) {
        router.registerInline(echo, request: [UInt8].self, response: [UInt8].self) { request, _ in request }
        router.registerUnary(echoAsync, request: [UInt8].self, response: [UInt8].self) { request, _ in request }
        router.registerUnary(sleep, request: [UInt8].self, response: [UInt8].self) { request, _ in
            try await Task.sleep(for: .milliseconds(Int(readUInt32(request))))
            return []
        }
        router.registerServerStreaming(repeatPayload, request: [UInt8].self, response: [UInt8].self) { request, writer, _ in
            let count = readUInt32(request)
            let payload = Array(request.dropFirst(4))
            for _ in 0..<count {
                try Task.checkCancellation()
                try await writer.write(payload)
            }
        }
        router.registerClientStreaming(collect, request: [UInt8].self, response: [UInt8].self) { requests, _ in
            var all: [UInt8] = []
            for try await request in requests { all += request }
            return all
        }
        router.registerBidirectional(chat, request: [UInt8].self, response: [UInt8].self) { requests, writer, _ in
            for try await request in requests { try await writer.write(request) }
        }
    }

    /// The request of `repeatPayload`: a count, then the payload.
    public static func repeatRequest(count: UInt32, payload: [UInt8]) -> [UInt8] {
        bigEndianBytes(count) + payload
    }

    /// The request of `sleep`.
    public static func sleepRequest(milliseconds: UInt32) -> [UInt8] { bigEndianBytes(milliseconds) }

    private static func bigEndianBytes(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8(truncatingIfNeeded: value >> 16), UInt8(truncatingIfNeeded: value >> 8), UInt8(truncatingIfNeeded: value)]
    }

    private static func readUInt32(_ bytes: [UInt8]) -> UInt32 {
        guard bytes.count >= 4 else { return 0 }
        return UInt32(bytes[0]) << 24 | UInt32(bytes[1]) << 16 | UInt32(bytes[2]) << 8 | UInt32(bytes[3])
    }
}
