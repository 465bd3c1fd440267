import Foundation
import PipeBusCore
public import PipeBusTasks
import PipeBusPipes
import Synchronization

/// Every worker's sidecars under one root — one per instance of a worker scaled out —
/// discovered from `<root>/workers/*/instances/*` as they appear and go, one `SidecarClient`
/// (and breaker) each, and calls fanned out.
///
/// Or the sidecars listed by a fleet file, on other hosts (`init(targets:makeClient:)`): each
/// worker's targets stand for its instances, and the same fan-out reaches them.
public final class Fleet: Sendable {
    /// One sidecar: a worker's instance.
    public struct Member: Hashable, Sendable, Comparable {
        public var worker: String
        public var instance: String

        public static func < (lhs: Member, rhs: Member) -> Bool { (lhs.worker, lhs.instance) < (rhs.worker, rhs.instance) }
    }

    public let root: String
    /// Each worker's targets, when the fleet was listed rather than discovered under `root`.
    public let targets: [String: [String]]?
    private let makeClient: @Sendable (String, String?) -> SidecarClient
    private let clients = Mutex<[String: SidecarClient]>([:])

    /// `makeClient(root, worker, instance)` makes the client of one sidecar (nil instance: any
    /// of the worker's).
    public init(root: String, makeClient: (@Sendable (String, String, String?) -> SidecarClient)? = nil) {
        self.root = root
        let make = makeClient ?? { root, worker, instance in SidecarClient(root: root, worker: worker, instance: instance) }
        self.makeClient = { worker, instance in make(root, worker, instance) }
        self.targets = nil
    }

    /// The sidecars at `targets` (worker → its targets, e.g. `grpc://10.0.0.2:50051`), one member
    /// per target; `makeClient(worker, target)` makes the client of one. A call for "any
    /// instance" of a worker goes to its first target.
    public init(targets: [String: [String]], makeClient: @escaping @Sendable (_ worker: String, _ target: String) -> SidecarClient) {
        self.root = ""
        self.targets = targets
        self.makeClient = { worker, target in makeClient(worker, target ?? targets[worker]?.first ?? "") }
    }

    /// The workers that have (or had) a sidecar: an instance directory or a heartbeat.
    public func workers() -> [String] {
        if let targets { return targets.keys.sorted() }
        let layout = RootLayout(root: root)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: layout.workersDirectory)) ?? []
        return names.filter { name in
            NameRule.component.accepts(name)
                && (!SidecarPaths(root: root, worker: name).instances().isEmpty
                    || FileManager.default.fileExists(atPath: layout.heartbeatPath(worker: name)))
        }.sorted()
    }

    /// The instances of `worker` that have run.
    public func instances(of worker: String) -> [String] {
        if let targets { return targets[worker] ?? [] }
        return SidecarPaths(root: root, worker: worker).instances()
    }

    /// Every sidecar that has run: each instance of each worker.
    public func members() -> [Member] {
        workers().flatMap { worker in instances(of: worker).map { Member(worker: worker, instance: $0) } }
    }

    /// The client of `worker` (of `instance`, or of any of its instances), kept for the fleet's
    /// lifetime so its breaker remembers.
    public func client(for worker: String, instance: String? = nil) -> SidecarClient {
        let key = instance.map { "\(worker)/\($0)" } ?? worker
        return clients.withLock { clients in
            if let client = clients[key] { return client }
            let client = makeClient(worker, instance)
            clients[key] = client
            return client
        }
    }

    /// Calls `body` for every worker at once (through any of its instances); each result or
    /// error by worker name.
    public func forEachWorker<Result: Sendable>(
        _ body: @escaping @Sendable (SidecarClient) async throws -> Result
    ) async -> [(worker: String, result: Swift.Result<Result, any Error>)] {
        let members = workers().map { Member(worker: $0, instance: "") }
        return await fanOut(members, body).map { ($0.member.worker, $0.result) }
    }

    /// Calls `body` for every instance of every worker at once.
    public func forEachInstance<Result: Sendable>(
        _ body: @escaping @Sendable (SidecarClient) async throws -> Result
    ) async -> [(member: Member, result: Swift.Result<Result, any Error>)] {
        await fanOut(members(), body)
    }

    /// An empty instance stands for any instance of the worker.
    private func fanOut<Result: Sendable>(
        _ members: [Member],
        _ body: @escaping @Sendable (SidecarClient) async throws -> Result
    ) async -> [(member: Member, result: Swift.Result<Result, any Error>)] {
        await withTaskGroup(of: (Member, Swift.Result<Result, any Error>).self) { group in
            for member in members {
                let client = client(for: member.worker, instance: member.instance.isEmpty ? nil : member.instance)
                group.addTask {
                    do { return (member, .success(try await body(client))) } catch { return (member, .failure(error)) }
                }
            }
            var results: [(member: Member, result: Swift.Result<Result, any Error>)] = []
            for await (member, result) in group { results.append((member, result)) }
            return results.sorted { $0.member < $1.member }
        }
    }

    /// `body` with the heartbeats and transitions of every sidecar (every instance of `workers`,
    /// all workers when nil), merged, each tagged with its worker; they are followed until `body`
    /// returns. Each instance reports the moves it made (or was first to see), so the merged
    /// stream has each transition once. A stream that breaks is resumed from the last sequence
    /// number seen.
    public func withEvents<Result: Sendable>(
        workers: [String]? = nil,
        _ body: (AsyncStream<(worker: String, event: Pipebus_Tasks_V1_Event)>) async throws -> Result
    ) async throws -> Result {
        let (stream, continuation) = AsyncStream.makeStream(of: (worker: String, event: Pipebus_Tasks_V1_Event).self)
        let members = members().filter { workers?.contains($0.worker) ?? true }
        if members.isEmpty { continuation.finish() }
        return try await withThrowingTaskGroup(of: Void.self) { group in
            for member in members {
                let client = client(for: member.worker, instance: member.instance)
                group.addTask {
                    var last: UInt64 = 0
                    while !Task.isCancelled {
                        do {
                            try await client.withEvents(after: last) { events in
                                for try await event in events {
                                    last = event.seq
                                    continuation.yield((member.worker, event))
                                }
                            }
                        } catch {
                            if let error = error as? RPCError, error.code == .outOfRange { last = 0 }
                            try? await Task.sleep(for: .milliseconds(500))  // before reconnecting
                        }
                    }
                }
            }
            defer {
                group.cancelAll()
                continuation.finish()
            }
            return try await body(stream)
        }
    }
}
