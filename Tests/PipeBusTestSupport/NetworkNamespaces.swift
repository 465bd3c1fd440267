import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Several hosts on one machine, for one test: network namespaces made with iproute2's `ip`, a
/// hub (the client's host) joined to each other host by a veth pair of its own, and removed
/// afterwards.
///
/// Host number `i` (1, 2, …, in the order given) shares the subnet `10.231.<i>.0/24` with the
/// hub: the hub is `.1`, the host `.2`. Nothing else is configured: no default route, no address
/// in the root namespace, so no packet can leave these namespaces, and the addresses cannot
/// collide with the machine's own networks (each namespace has its own routing table). Only
/// the hub reaches every host; the hosts do not reach each other.
///
/// Names carry this process's id and a counter (`pipebus-<pid>-<n>-<host>`), so tests that run
/// at once, and whatever a killed run left behind, never collide. Making namespaces needs root
/// (CAP_SYS_ADMIN and CAP_NET_ADMIN); `isAvailable()` finds out by trying.
public final class NetworkNamespaces: Sendable {
    /// One host: its namespace, its address, and the interface that joins it to the hub.
    public struct Host: Sendable, CustomStringConvertible {
        /// The name the test gave it ("b").
        public var name: String
        /// Its network namespace (`ip netns` name).
        public var namespace: String
        /// Its address on the link to the hub.
        public var address: String
        /// The hub's address on that link.
        public var hubAddress: String
        /// The host's end of the veth pair (inside `namespace`).
        public var interface: String
        /// The hub's end of it.
        public var hubInterface: String

        public var description: String { "\(name) (\(namespace), \(address))" }
    }

    /// The hub: the namespace that reaches every host, where the clients run.
    public let hub: String
    /// The hosts by name.
    public let hosts: [String: Host]

    /// Every namespace made so far, hub first: what `remove()` deletes.
    private let made: Mutex<[String]>

    private static let counter = Atomic<Int>(0)

    private init(hub: String, hosts: [String: Host], made: [String]) {
        self.hub = hub
        self.hosts = hosts
        self.made = Mutex(made)
    }

    /// The host named `name`; stops the test if there is none.
    public subscript(_ name: String) -> Host {
        guard let host = hosts[name] else { preconditionFailure("no host \(name) in \(hosts.keys.sorted())") }
        return host
    }

    /// Makes the hub and `hostNames`, runs `body`, and removes every namespace afterwards,
    /// whether `body` returns or throws. Stop what runs inside the namespaces in `body`: a
    /// process still inside keeps its namespace alive (nameless) until it ends.
    public static func with<Result>(
        hosts hostNames: [String],
        _ body: (NetworkNamespaces) async throws -> Result
    ) async throws -> Result {
        let network = try await make(hosts: hostNames)
        do {
            let result = try await body(network)
            network.remove()
            return result
        } catch {
            network.remove()
            throw error
        }
    }

    /// Makes the namespaces and links (removing what it made if a step fails).
    public static func make(hosts hostNames: [String]) async throws -> NetworkNamespaces {
        precondition(hostNames.count < 255 && Set(hostNames).count == hostNames.count, "distinct host names, fewer than 255")
        let prefix = "pipebus-\(getpid())-\(counter.wrappingAdd(1, ordering: .relaxed).newValue)"
        let hub = "\(prefix)-hub"
        var hosts: [String: Host] = [:]
        for (index, name) in hostNames.enumerated() {
            let subnet = "10.231.\(index + 1)"
            // Interface names are at most 15 bytes; each lives in its own namespace, so short
            // fixed names cannot collide: `hub` in every host, `host<i>` in the hub.
            hosts[name] = Host(
                name: name,
                namespace: "\(prefix)-\(name)",
                address: "\(subnet).2",
                hubAddress: "\(subnet).1",
                interface: "hub",
                hubInterface: "host\(index + 1)"
            )
        }
        let network = NetworkNamespaces(hub: hub, hosts: hosts, made: [])
        do {
            try await network.add(hub)
            try await ip(["-n", hub, "link", "set", "lo", "up"])
            for name in hostNames {
                let host = hosts[name]!
                try await network.add(host.namespace)
                try await ip(["-n", host.namespace, "link", "set", "lo", "up"])
                // Both ends are made inside their namespaces: no name ever exists in the root one.
                try await ip([
                    "-n", hub, "link", "add", host.hubInterface, "type", "veth", "peer", "name", host.interface,
                    "netns", host.namespace,
                ])
                try await ip(["-n", hub, "addr", "add", "\(host.hubAddress)/24", "dev", host.hubInterface])
                try await ip(["-n", host.namespace, "addr", "add", "\(host.address)/24", "dev", host.interface])
                try await ip(["-n", hub, "link", "set", host.hubInterface, "up"])
                try await ip(["-n", host.namespace, "link", "set", host.interface, "up"])
            }
        } catch {
            network.remove()
            throw error
        }
        return network
    }

    private func add(_ namespace: String) async throws {
        try await Self.ip(["netns", "add", namespace])
        made.withLock { $0.append(namespace) }
    }

    /// Deletes every namespace made (their veth pairs go with them). Idempotent, synchronous
    /// (for a `defer`).
    public func remove() {
        let namespaces = made.withLock { made in
            defer { made.removeAll() }
            return made
        }
        for namespace in namespaces.reversed() {
            _ = Self.ipBlocking(["netns", "delete", namespace])
        }
    }

    // MARK: Inside

    /// `arguments` as a command line that runs inside `namespace` (`ip netns exec`, which execs
    /// the program: the child's pid is the program's own, so signals reach it directly).
    public static func command(in namespace: String, _ arguments: [String]) -> [String] {
        ["ip", "netns", "exec", namespace] + arguments
    }

    /// `arguments` as a command line that runs on the hub.
    public func onHub(_ arguments: [String]) -> [String] { Self.command(in: hub, arguments) }

    /// `arguments` as a command line that runs on host `name`.
    public func on(_ name: String, _ arguments: [String]) -> [String] {
        Self.command(in: self[name].namespace, arguments)
    }

    // MARK: Partitions

    /// Takes host `name`'s end of its link to the hub down (or back up). Down, the host stops
    /// answering: the hub keeps its route, and what it sends to the host is dropped, so a client
    /// on the hub sees silence (a timeout), not a refusal. Connections and processes on both
    /// sides are left as they are.
    public func setLink(of name: String, up: Bool) async throws {
        let host = self[name]
        try await Self.ip(["-n", host.namespace, "link", "set", host.interface, up ? "up" : "down"])
    }

    // MARK: Availability

    /// Whether namespaces can be made here: tries (adds and deletes a throwaway one), since
    /// being root is not enough (a container without CAP_SYS_ADMIN) and `ip` may be missing.
    public static func isAvailable() async -> Bool {
        let probe = "pipebus-\(getpid())-probe-\(counter.wrappingAdd(1, ordering: .relaxed).newValue)"
        guard (try? await ip(["netns", "add", probe])) != nil else { return false }
        return ipBlocking(["netns", "delete", probe])
    }

    // MARK: ip

    /// Runs `ip arguments…`; throws with its output if it fails.
    @discardableResult
    public static func ip(_ arguments: [String]) async throws -> String {
        let finished = try await ChildProcess.run(["ip"] + arguments, timeout: .seconds(30))
        guard finished.exit == .code(0) else {
            throw TestSupportError("ip \(arguments.joined(separator: " ")): \(finished.exit)\n\(finished.stderr)")
        }
        return finished.stdout
    }

    /// `ip arguments…` without suspending; whether it succeeded.
    private static func ipBlocking(_ arguments: [String]) -> Bool {
        guard let process = try? ChildProcess(["ip"] + arguments, stdout: .null, stderr: .null) else { return false }
        return process.waitBlocking(timeout: .seconds(30)) == .code(0)
    }
}
