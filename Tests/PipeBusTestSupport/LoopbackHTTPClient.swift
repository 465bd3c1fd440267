import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A minimal blocking HTTP/1.1 client over a raw TCP socket to 127.0.0.1: enough to check the
/// metrics server byte for byte and to query Prometheus, without FoundationNetworking or curl.
public struct LoopbackHTTPClient: Sendable {
    public struct Response: Sendable, CustomStringConvertible {
        public var status: Int
        /// Lower-cased names.
        public var headers: [String: String]
        public var body: String

        public var description: String { "HTTP \(status)\n\(body.prefix(2000))" }
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    public let port: Int

    public init(port: Int) { self.port = port }

    /// Sends one request with `Connection: close` and reads the response to EOF (5 s timeout).
    /// Blocking: from async code, use `get(_:)`.
    public func request(_ method: String, _ target: String) throws -> Response {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: errno \(errno)") }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = LoopbackPort.address(port: port)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            throw Failure(description: "connect to 127.0.0.1:\(port): \(String(cString: strerror(errno)))")
        }

        let request = Array("\(method) \(target) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8)
        guard request.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == request.count else {
            throw Failure(description: "send to 127.0.0.1:\(port): \(String(cString: strerror(errno)))")
        }
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count > 0 {
                received += chunk[0..<count]
            } else if count == 0 {
                break
            } else if errno != EINTR {
                throw Failure(description: "recv from 127.0.0.1:\(port): \(String(cString: strerror(errno)))")
            }
        }
        return try Self.parse(String(decoding: received, as: UTF8.self))
    }

    /// `GET target` on a thread of its own, so that a server that does not answer never holds
    /// a thread of the cooperative pool (it has two here).
    public func get(_ target: String) async throws -> Response {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try request("GET", target) }) }.start()
        }
    }

    /// `GET /metrics`, which must answer 200; the exposition text.
    public func scrapeMetrics() async throws -> String {
        let response = try await get("/metrics")
        guard response.status == 200 else {
            throw Failure(description: "GET 127.0.0.1:\(port)/metrics answered \(response)")
        }
        return response.body
    }

    private static func parse(_ text: String) throws -> Response {
        guard let split = text.range(of: "\r\n\r\n") else { throw Failure(description: "no header end in \(text)") }
        let lines = text[..<split.lowerBound].components(separatedBy: "\r\n")
        let statusParts = lines[0].split(separator: " ")
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else {
            throw Failure(description: "bad status line \(lines[0])")
        }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(
                in: .whitespaces
            )
        }
        let body = String(text[split.upperBound...])
        guard headers["transfer-encoding"]?.lowercased() == "chunked" else {
            return Response(status: status, headers: headers, body: body)
        }
        return Response(status: status, headers: headers, body: try dechunked(Array(body.utf8)))
    }

    /// A chunked body (what Prometheus sends for a longer answer, e.g. /api/v1/rules) joined.
    private static func dechunked(_ bytes: [UInt8]) throws -> String {
        var body: [UInt8] = []
        var index = 0
        while let lineEnd = bytes[index...].firstIndex(of: UInt8(ascii: "\r")) {
            let sizeText = String(decoding: bytes[index..<lineEnd], as: UTF8.self).split(separator: ";").first ?? ""
            guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16) else {
                throw Failure(description: "bad chunk size \(sizeText)")
            }
            let start = lineEnd + 2
            if size == 0 { break }
            guard start + size <= bytes.count else { throw Failure(description: "chunk of \(size) bytes cut short") }
            body += bytes[start..<start + size]
            index = start + size + 2
            guard index < bytes.count else { break }
        }
        return String(decoding: body, as: UTF8.self)
    }
}
