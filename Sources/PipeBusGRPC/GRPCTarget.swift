#if GRPC
import PipeBusCore

/// A remote sidecar, as clients name it: `grpc://HOST:PORT` (plaintext), `grpcs://HOST:PORT`
/// (TLS), or `unix:PATH` (a socket of this host, plaintext).
public struct GRPCTarget: Hashable, Sendable, CustomStringConvertible {
    public enum Address: Hashable, Sendable {
        case host(String, port: Int)
        case unix(path: String)
    }

    public var address: Address
    public var usesTLS: Bool

    /// Parses a target; throws INVALID_ARGUMENT saying what is wrong.
    public init(parsing text: String) throws {
        if text.hasPrefix("unix:") {
            let path = String(text.dropFirst("unix:".count))
            guard path.hasPrefix("/") else {
                throw RPCError(code: .invalidArgument, message: "target \(text): a unix socket needs an absolute path")
            }
            self.init(address: .unix(path: path), usesTLS: false)
            return
        }
        let usesTLS: Bool
        let rest: Substring
        if text.hasPrefix("grpc://") {
            (usesTLS, rest) = (false, text.dropFirst("grpc://".count))
        } else if text.hasPrefix("grpcs://") {
            (usesTLS, rest) = (true, text.dropFirst("grpcs://".count))
        } else {
            throw RPCError(code: .invalidArgument, message: "target \(text): expected grpc://HOST:PORT, grpcs://HOST:PORT or unix:PATH")
        }
        // The listen address's parser: HOST:PORT or [IPV6]:PORT, a port from 1 to 65535.
        guard case .tcp(let host, let port)? = try? GRPCListenAddress(parsing: String(rest)), port > 0 else {
            throw RPCError(code: .invalidArgument, message: "target \(text): expected a port from 1 to 65535")
        }
        self.init(address: .host(host, port: port), usesTLS: usesTLS)
    }

    public init(address: Address, usesTLS: Bool) {
        self.address = address
        self.usesTLS = usesTLS
    }

    public var description: String {
        switch address {
        case .host(let host, let port): "\(usesTLS ? "grpcs" : "grpc")://\(host.contains(":") ? "[\(host)]" : host):\(port)"
        case .unix(let path): "unix:\(path)"
        }
    }
}
#endif
