/// Work the harness runs in a child process of its own, pinned before any thread starts.
///
/// The orchestrating process spawns `pipebus-bench _peer <name> --cpu N --configuration JSON`;
/// the peer pins itself, runs the role and prints the report as JSON on stdout. A two-process
/// scenario is two roles (a server and a client) meeting at a FIFO directory named in their
/// configurations.
protocol PeerRole {
    associatedtype Configuration: Codable & Sendable
    associatedtype Report: Codable & Sendable

    /// The name on the `_peer` command line.
    static var name: String { get }

    static func run(_ configuration: Configuration) async throws -> Report
}

/// Every role a peer process can play. A scenario that needs a new one adds it here.
enum PeerRoles {
    static var all: [any PeerRole.Type] {
        var roles: [any PeerRole.Type] = [CodecRole.self, EngineRole.self, ServerRole.self, ClientRole.self, SpoolClientRole.self]
        #if GRPC
        roles += [GRPCEchoServerRole.self, GRPCEchoClientRole.self]
        #endif
        return roles
    }

    static func named(_ name: String) -> (any PeerRole.Type)? {
        all.first { $0.name == name }
    }
}
