import Foundation
import PipeBusCore
import Synchronization
import PipeBusTasks

#if canImport(Glibc)
import Glibc
#endif

extension Integration {
    /// Submits tasks continuously over the pipe on a task of its own, reconnecting whenever the
    /// sidecar goes away, and records every id it tried and every id the sidecar acknowledged.
    final class SubmitLoad: Sendable {
        private struct State {
            var attempted: [String] = []
            var acknowledged: [String] = []
            var errors: [String: Int] = [:]
            var client: Client?
        }

        private let state = Mutex(State())
        private let stopping = Atomic<Bool>(false)
        private let runner = Mutex<Task<Void, Never>?>(nil)

        init(_ root: Root, prefix: String, payload: String = #"{"prompt":"load","n":1}"#) {
            let task = Task.detached { [self] in
                var next = 0
                while !stopping.load(ordering: .relaxed) {
                    guard let client = try? Client.connect(root) else {
                        try? await Task.sleep(for: .milliseconds(2))
                        continue
                    }
                    state.withLock { $0.client = client }
                    while !stopping.load(ordering: .relaxed) {
                        let id = "\(prefix)-\(next)"
                        next += 1
                        state.withLock { $0.attempted.append(id) }
                        do {
                            let info = try await client.submit(payload, id: id)
                            state.withLock { $0.acknowledged.append(info.id) }
                        } catch {
                            let code = (error as? RPCError).map { "\($0.code)" } ?? "\(type(of: error))"
                            state.withLock { $0.errors[code, default: 0] += 1 }
                            break
                        }
                    }
                    state.withLock { $0.client = nil }
                    client.close()
                }
            }
            runner.withLock { $0 = task }
        }

        var acknowledged: [String] { state.withLock { $0.acknowledged } }
        var attempted: [String] { state.withLock { $0.attempted } }
        var errors: [String: Int] { state.withLock { $0.errors } }

        /// Stops submitting and waits for the loop to end (a call in flight is bounded by its timeout).
        func stop() async {
            stopping.store(true, ordering: .relaxed)
            let task = runner.withLock { $0 }
            await task?.value
        }
    }

    /// A pipe worker: leases tasks and completes each one it receives, reconnecting whenever
    /// the sidecar goes away. `hold` keeps tasks unfinished instead (they stay leased).
    final class LeaseWorker: Sendable {
        private struct State {
            var received: [String] = []
            var finished: [String] = []
            var client: Client?
        }

        private let state = Mutex(State())
        private let stopping = Atomic<Bool>(false)
        private let runner = Mutex<Task<Void, Never>?>(nil)

        init(_ root: Root, maxInFlight: UInt32 = 4, hold: Bool = false) {
            let task = Task.detached { [self] in
                while !stopping.load(ordering: .relaxed) {
                    guard let client = try? Client.connect(root) else {
                        try? await Task.sleep(for: .milliseconds(2))
                        continue
                    }
                    state.withLock { $0.client = client }
                    do {
                        try await client.connection.withServerStreaming(
                            Pipebus_Tasks_V1_Tasks.Method.Lease.descriptor,
                            request: Pipebus_Tasks_V1_LeaseRequest(maxInFlight: maxInFlight),
                            responseType: Pipebus_Tasks_V1_Task.self
                        ) { stream in
                            for try await task in stream {
                                state.withLock { $0.received.append(task.id) }
                                if hold { continue }
                                _ = try await client.finish(task.id, result: #"{"done":true}"#)
                                state.withLock { $0.finished.append(task.id) }
                            }
                        }
                    } catch {}
                    state.withLock { $0.client = nil }
                    client.close()
                }
            }
            runner.withLock { $0 = task }
        }

        var received: [String] { state.withLock { $0.received } }
        var finished: [String] { state.withLock { $0.finished } }

        /// Stops: closes the connection (ending the lease) and waits for the loop to end.
        func stop() async {
            stopping.store(true, ordering: .relaxed)
            state.withLock { $0.client }?.close()
            let task = runner.withLock { $0 }
            task?.cancel()
            await task?.value
        }
    }

    /// What every spool must look like at rest: each task file is in one folder, parses as a JSON
    /// object and names itself; returns the problems found (empty when all is well).
    static func spoolProblems(_ root: Root, acknowledged: [String]) -> [String] {
        var problems: [String] = []
        let locations = root.locations()
        for (id, states) in locations where states.count != 1 {
            problems.append("\(id) is in \(states.count) folders: \(states)")
        }
        for id in acknowledged where locations[id] == nil {
            problems.append("acknowledged task \(id) is lost (in no state folder)")
        }
        for (id, states) in locations {
            for state in states {
                do {
                    let object = try root.object(id, state)
                    if object["id"] as? String != id { problems.append("\(state)/\(id).json names id \(object["id"] ?? "nil")") }
                } catch {
                    problems.append("\(state)/\(id).json does not parse (torn?): \(error)")
                }
            }
        }
        let quarantined = root.names(in: root.quarantine)
        if !quarantined.isEmpty { problems.append("quarantined: \(quarantined)") }
        return problems
    }
}
