public import PipeBusCore

/// The echo service (proto/pipebus/testing/v1/echo.proto), for measuring and testing a
/// connection: payloads are raw bytes, returned as they came. A sidecar serves it too, so
/// `pipebus-bench` and operators can measure the pipe of a live deployment.
public struct EchoService: Pipebus_Testing_V1_Echo.ServiceProtocol {
    public init() {}

    public func echo(request: [UInt8], context: ServerContext) throws -> [UInt8] { request }

    public func echoAsync(request: [UInt8], context: ServerContext) async throws -> [UInt8] { request }

    public func sleep(request: [UInt8], context: ServerContext) async throws -> [UInt8] {
        try await Task.sleep(for: .milliseconds(Int(Self.readUInt32(request))))
        return []
    }

    public func `repeat`(request: [UInt8], response: ResponseWriter<[UInt8]>, context: ServerContext) async throws {
        let count = Self.readUInt32(request)
        let payload = Array(request.dropFirst(4))
        for _ in 0..<count {
            try Task.checkCancellation()
            try await response.write(payload)
        }
    }

    public func collect(request: RequestStream<[UInt8]>, context: ServerContext) async throws -> [UInt8] {
        var all: [UInt8] = []
        for try await message in request { all += message }
        return all
    }

    public func chat(request: RequestStream<[UInt8]>, response: ResponseWriter<[UInt8]>, context: ServerContext) async throws {
        for try await message in request { try await response.write(message) }
    }

    /// The request of `Repeat`: a count, then the payload.
    public static func repeatRequest(count: UInt32, payload: [UInt8]) -> [UInt8] {
        bigEndianBytes(count) + payload
    }

    /// The request of `Sleep`.
    public static func sleepRequest(milliseconds: UInt32) -> [UInt8] { bigEndianBytes(milliseconds) }

    private static func bigEndianBytes(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8(truncatingIfNeeded: value >> 16), UInt8(truncatingIfNeeded: value >> 8), UInt8(truncatingIfNeeded: value)]
    }

    private static func readUInt32(_ bytes: [UInt8]) -> UInt32 {
        guard bytes.count >= 4 else { return 0 }
        return UInt32(bytes[0]) << 24 | UInt32(bytes[1]) << 16 | UInt32(bytes[2]) << 8 | UInt32(bytes[3])
    }
}
