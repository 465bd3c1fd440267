#if GRPC
import PipeBusCore

/// Where the bridge listens: `HOST:PORT` (`[v6]:PORT` for IPv6) or `unix:PATH`.
public enum GRPCListenAddress: Hashable, Sendable, CustomStringConvertible {
    case tcp(host: String, port: Int)
    case unix(path: String)

    /// Parses `--grpc-listen`'s value; throws INVALID_ARGUMENT saying what is wrong.
    public init(parsing text: String) throws {
        if text.hasPrefix("unix:") {
            let path = String(text.dropFirst("unix:".count))
            guard path.hasPrefix("/") else {
                throw RPCError(code: .invalidArgument, message: "gRPC address \(text): a unix socket needs an absolute path (unix:/run/pipebus/marie.sock)")
            }
            self = .unix(path: path)
            return
        }
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                throw RPCError(code: .invalidArgument, message: "gRPC address \(text): expected [IPV6]:PORT")
            }
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":"), !text[..<colon].contains(":") else {
                throw RPCError(code: .invalidArgument, message: "gRPC address \(text): expected HOST:PORT, [IPV6]:PORT or unix:PATH")
            }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        }
        guard !host.isEmpty, let port = Int(portText), (0...65535).contains(port) else {
            throw RPCError(code: .invalidArgument, message: "gRPC address \(text): expected HOST:PORT with a port from 0 to 65535")
        }
        self = .tcp(host: String(host), port: port)
    }

    /// Only this machine can reach it: a loopback address or a unix socket. Plaintext is allowed
    /// there without `--grpc-insecure`.
    public var isLocalOnly: Bool {
        switch self {
        case .unix: true
        case .tcp(let host, _): host == "localhost" || host == "::1" || host.hasPrefix("127.")
        }
    }

    public var description: String {
        switch self {
        case .tcp(let host, let port): host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        case .unix(let path): "unix:\(path)"
        }
    }
}
#endif
