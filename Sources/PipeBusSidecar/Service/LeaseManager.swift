import Dispatch
import Foundation
import Logging
import PipeBusCore
import PipeBusTasks
import Synchronization

/// Hands pending tasks to pipe workers that lease them, at most `batch_size` unfinished per
/// lease, and takes back what a lost lease held.
///
/// Claiming is the spool's pending → active rename, so several sidecar instances (or a spool
/// worker) can compete for the same folder: a lost race is skipped, never an error. A lease
/// that ends — the worker finished its call, disconnected or died — returns its unfinished
/// tasks to `pending/` (their `attempts` count the claims): at-least-once, never lost.
final class LeaseManager: Sendable {
    private struct Lease {
        var maxInFlight: Int
        var inFlight: Set<TaskID> = []
        let continuation: AsyncStream<TaskRecord>.Continuation
    }

    private struct State {
        var leases: [Int: Lease] = [:]
        var nextLease = 0
        var pumping = false
        var pumpAgain = false
        var stopped = false
    }

    private let spool: TaskSpool
    private let ledger: LeaseLedger
    private let tracing: TaskTracing
    private let batchSize: @Sendable () -> Int
    private let logger: Logger
    private let state = Mutex(State())
    /// Where claiming happens: a claim fsyncs, and the callers of `pump()` (the spool
    /// watcher's thread above all, which must keep up with inotify) must not wait for it.
    private let pumpQueue = DispatchQueue(label: "pipebus.lease-pump")
    /// Where a pass's claims run side by side (the spool's blocking pool).
    private let pool: BlockingPool

    init(spool: TaskSpool, ledger: LeaseLedger, tracing: TaskTracing, pool: BlockingPool, batchSize: @escaping @Sendable () -> Int, logger: Logger) {
        self.spool = spool
        self.pool = pool
        self.ledger = ledger
        self.tracing = tracing
        self.batchSize = batchSize
        self.logger = logger
    }

    /// How many pipe workers hold a lease now.
    var leaseCount: Int { state.withLock { $0.leases.count } }

    /// Opens a lease; the stream yields claimed tasks. Call `close` when the lease ends.
    func open(maxInFlight: Int) -> (tasks: AsyncStream<TaskRecord>, id: Int) {
        let (stream, continuation) = AsyncStream.makeStream(of: TaskRecord.self)
        let id = state.withLock { state -> Int in
            let id = state.nextLease
            state.nextLease += 1
            state.leases[id] = Lease(maxInFlight: max(1, maxInFlight), continuation: continuation)
            return id
        }
        pump()
        return (stream, id)
    }

    /// Ends a lease and returns its unfinished tasks to pending/.
    func close(_ id: Int) {
        guard let lease = state.withLock({ $0.leases.removeValue(forKey: id) }) else { return }
        lease.continuation.finish()
        for task in lease.inFlight.sorted() {
            do {
                try spool.transition(task, from: .active, to: .pending)
                logger.warning("lease ended with the task unfinished; re-queued", metadata: ["task_id": "\(task)"])
            } catch let error as RPCError where error.code == .aborted || error.code == .notFound {
                // finished or moved by someone else meanwhile
            } catch {
                logger.error("could not re-queue a task of a lost lease", metadata: ["task_id": "\(task)", "error": "\(error)"])
                continue  // still ours: the ledger keeps it, for the next start to re-queue
            }
            ledger.forget(task)
        }
        pump()
    }

    /// A leased task is done (completed or failed by the worker): frees its slot.
    /// Throws FAILED_PRECONDITION if no lease holds it.
    func release(_ task: TaskID) throws {
        let found = state.withLock { state -> Bool in
            for (id, var lease) in state.leases where lease.inFlight.contains(task) {
                lease.inFlight.remove(task)
                state.leases[id] = lease
                return true
            }
            return false
        }
        guard found else {
            throw RPCError(code: .failedPrecondition, message: "task \(task) is not leased by any pipe worker of this sidecar")
        }
        ledger.forget(task)
    }

    func holds(_ task: TaskID) -> Bool {
        state.withLock { $0.leases.values.contains { $0.inFlight.contains(task) } }
    }

    /// Stops handing out tasks and ends every lease, re-queueing what they held.
    func stop() {
        let ids = state.withLock { state -> [Int] in
            state.stopped = true
            return Array(state.leases.keys)
        }
        for id in ids { close(id) }
    }

    /// Claims pending tasks for leases with free slots, on a queue of its own; returns at once.
    /// Safe to call from any thread, as often as wanted: calls made while a pass runs fold
    /// into one more pass.
    func pump() {
        let mayRun = state.withLock { state -> Bool in
            if state.stopped { return false }
            if state.pumping {
                state.pumpAgain = true
                return false
            }
            state.pumping = true
            return true
        }
        guard mayRun else { return }
        pumpQueue.async { self.pumpUntilQuiet() }
    }

    private func pumpUntilQuiet() {
        while true {
            pumpOnce()
            let again = state.withLock { state -> Bool in
                if state.pumpAgain {
                    state.pumpAgain = false
                    return true
                }
                state.pumping = false
                return false
            }
            if !again { return }
        }
    }

    private func pumpOnce() {
        let limit = batchSize()
        var room = freeSlots(limit: limit)
        let free = room.values.reduce(0, +)
        guard free > 0 else { return }
        var candidates: ArraySlice<TaskRecord>
        do {
            // Oldest first by mtime (from lstat); only as many files read as there is room for,
            // plus a few for claims lost to other consumers: a long queue is not re-read per pump.
            candidates = try spool.list(.pending, limit: free + 8)[...]
        } catch {
            logger.error("cannot list pending tasks", metadata: ["error": "\(error)"])
            return
        }
        // Each claim has its lease's slot before it starts, and the claims run side by side on
        // the spool's pool, so that their fsyncs share group commits: one after another, every
        // claim paid its own (issue 18). Passes run one at a time, so `room` stays true while
        // this one runs (a release only adds room, for the next pass). A lost race leaves its
        // slot free for the next candidate.
        while !candidates.isEmpty {
            var plan: [(task: TaskID, lease: Int)] = []
            while let candidate = candidates.first, let lease = Self.mostRoom(in: room) {
                candidates.removeFirst()
                room[lease, default: 0] -= 1
                plan.append((candidate.id, lease))
            }
            guard !plan.isEmpty else { return }
            let lost = Atomic(false)
            pool.forEach(plan) { planned in
                if !self.claim(planned.task, for: planned.lease) { lost.store(true, ordering: .relaxed) }
            }
            guard lost.load(ordering: .relaxed) else { return }
            // Lost slots are free again, in the leases that still exist.
            room = freeSlots(limit: limit)
        }
    }

    /// Free slots by lease: at most `limit` in flight each (and no more than it asked for).
    private func freeSlots(limit: Int) -> [Int: Int] {
        state.withLock { state in
            state.leases.mapValues { max(0, min($0.maxInFlight, limit) - $0.inFlight.count) }
        }
    }

    /// Claims `task` for lease `leaseID` and delivers it; false if the claim was lost (another
    /// consumer won, or it failed), or the lease ended meanwhile.
    private func claim(_ task: TaskID, for leaseID: Int) -> Bool {
        // Noted before the claim: if this instance dies after it, the note is how another
        // instance knows to return the task.
        ledger.record(task)
        let started = Date()
        let claimed: TaskRecord
        do {
            claimed = try spool.claim(task)
            tracing.call("lease", claimed, startedAt: started)
        } catch let error as RPCError where error.code == .aborted || error.code == .notFound {
            ledger.forget(task)
            return false  // another consumer won it
        } catch {
            ledger.forget(task)
            logger.error("cannot claim a task", metadata: ["task_id": "\(task)", "error": "\(error)"])
            return false
        }
        let delivered = state.withLock { state -> Bool in
            guard var lease = state.leases[leaseID] else { return false }
            lease.inFlight.insert(claimed.id)
            state.leases[leaseID] = lease
            lease.continuation.yield(claimed)
            return true
        }
        if !delivered {
            if (try? spool.transition(claimed.id, from: .active, to: .pending)) != nil { ledger.forget(claimed.id) }
        }
        return delivered
    }

    /// The lease with the most room left in `room` (spreads tasks across workers); nil when
    /// every lease is full.
    private static func mostRoom(in room: [Int: Int]) -> Int? {
        var best: (id: Int, room: Int)?
        for (id, free) in room where free > 0 {
            if let current = best, current.room > free || (current.room == free && current.id < id) { continue }
            best = (id, free)
        }
        return best?.id
    }
}
