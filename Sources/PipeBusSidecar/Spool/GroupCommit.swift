import PipeBusCore
import PipeBusSystem
import SystemPackage

/// Makes renames durable for many threads at once: each caller names the folders its renames
/// (or unlinks) were made in and waits until an fsync of each folder that *started after* its
/// call has finished. One caller at a time is the leader: it takes every folder asked for so
/// far, syncs each once, and wakes the callers it covered; those who arrived while it synced
/// form the next batch, committed by the next leader. Sixteen submits that land together pay
/// one or two folder fsyncs, not sixteen, and no submit is acknowledged before the fsync that
/// covers it (DESIGN §5: a file-plus-folder fsync takes ~0.6 ms here, so one fsync per step
/// caps the spool at a few hundred tasks/s).
///
/// Callers block: they are connection threads running inline handlers (`TaskService`) or the
/// spool's own callers, never the cooperative pool's threads, and a leader is bounded by its
/// fsyncs.
final class GroupCommit: Sendable {
    private struct State {
        /// Folders asked for since the last leader took its batch.
        var waiting: Set<FilePath> = []
        /// The batch being filled; a caller waits until `durable` reaches the batch it joined.
        var filling: UInt64 = 1
        var durable: UInt64 = 0
        var leading = false
        /// Failed batches, most recent last (a few: a waiter looks only at its own, just done).
        var failures: [(batch: UInt64, error: any Error)] = []
        /// Batches committed and folder fsyncs made, for tests and the bench.
        var batches: UInt64 = 0
        var fsyncs: UInt64 = 0
    }

    private let lock = ConditionLock()
    private nonisolated(unsafe) var state = State()  // guarded by `lock`
    private let syncFolder: @Sendable (FilePath) throws -> Void

    /// `syncFolder` fsyncs one folder (a seam for tests; `FilePath.syncDirectory` by default).
    init(syncFolder: @escaping @Sendable (FilePath) throws -> Void = { try $0.syncDirectory() }) {
        self.syncFolder = syncFolder
    }

    private enum Step {
        case done((any Error)?)
        case lead(Set<FilePath>, batch: UInt64)
    }

    /// Returns once an fsync of each of `folders` begun after this call has completed; throws
    /// the first error of the batch that covered it (every caller of that batch gets it).
    func sync(_ folders: [FilePath]) throws {
        guard !folders.isEmpty else { return }
        var mine: UInt64 = 0
        while true {
            let step = lock.withLock { () -> Step in
                if mine == 0 {
                    state.waiting.formUnion(folders)
                    mine = state.filling
                }
                while true {
                    if state.durable >= mine {
                        return .done(state.failures.last { $0.batch == mine }?.error)
                    }
                    if !state.leading {
                        // Lead: take every folder asked for so far; later callers fill the next batch.
                        state.leading = true
                        let batch = state.waiting
                        let number = state.filling
                        state.waiting.removeAll(keepingCapacity: true)
                        state.filling += 1
                        return .lead(batch, batch: number)
                    }
                    _ = lock.wait(until: nil)
                }
            }
            switch step {
            case .done(let failure):
                if let failure { throw failure }
                return
            case .lead(let folders, let number):
                var failure: (any Error)?
                for folder in folders {
                    do {
                        try syncFolder(folder)
                    } catch {
                        if failure == nil { failure = error }
                    }
                }
                lock.withLock {
                    state.durable = number
                    state.leading = false
                    state.batches += 1
                    state.fsyncs += UInt64(folders.count)
                    if let failure {
                        state.failures.append((number, failure))
                        if state.failures.count > 16 { state.failures.removeFirst() }
                    }
                    lock.broadcast()
                }
            }
        }
    }

    /// Batches committed and folder fsyncs made so far.
    var statistics: (batches: UInt64, fsyncs: UInt64) {
        lock.withLock { (state.batches, state.fsyncs) }
    }
}
