import Foundation
import PipeBusCore
import PipeBusTasks
import Synchronization
import Testing

@testable import PipeBusSidecar

#if canImport(Glibc)
import Glibc
#endif
import PipeBusSystem
import SystemPackage

/// Folder fsyncs shared by concurrent callers, each released only by an fsync that began after
/// it asked.
@Suite("GroupCommit", .timeLimit(.minutes(1)))
struct GroupCommitTests {
    /// A fake folder fsync that takes a while and records, for each completed sync, the ticket
    /// the clock showed when it began.
    final class SlowSync: Sendable {
        let clock = Atomic<UInt64>(0)
        let calls = Atomic<Int>(0)
        let completedStarts = Mutex<[UInt64]>([])
        let failBatch = Atomic<Int>(-1)

        func sync(_ folder: FilePath) throws {
            let started = clock.load(ordering: .sequentiallyConsistent)
            let call = calls.add(1, ordering: .sequentiallyConsistent).oldValue
            usleep(2_000)
            if call == failBatch.load(ordering: .sequentiallyConsistent) {
                throw SystemCallError("fsync", path: folder, errno: .ioError)
            }
            completedStarts.withLock { $0.append(started) }
        }
    }

    /// Runs `body` on `threads` threads of their own (as the sidecar's connections are; a
    /// dispatch queue would run only a couple at once on two cores) and waits for them all.
    private func concurrently(threads: Int, _ body: @escaping @Sendable (Int) -> Void) {
        let running = (0..<threads).map { thread in OSThread(name: "commit-\(thread)") { body(thread) } }
        for thread in running { thread.join() }
    }

    @Test("16 threads × 40 syncs of one folder share fsyncs, and each returns only after an fsync that began after its call")
    func sharedAndOrdered() throws {
        let fake = SlowSync()
        let commit = GroupCommit { try fake.sync($0) }
        let folder = FilePath("/spool/pending")
        let violations = Atomic<Int>(0)
        concurrently(threads: 16) { _ in
            for _ in 0..<40 {
                // A ticket after this caller's "rename": a covering fsync must have begun later.
                let ticket = fake.clock.add(1, ordering: .sequentiallyConsistent).newValue
                do {
                    try commit.sync([folder])
                } catch {
                    violations.add(1, ordering: .relaxed)
                }
                let covered = fake.completedStarts.withLock { $0.contains { $0 >= ticket } }
                if !covered { violations.add(1, ordering: .relaxed) }
            }
        }
        #expect(violations.load(ordering: .relaxed) == 0, "calls returned before an fsync that covers them")
        let (batches, fsyncs) = commit.statistics
        #expect(fsyncs == UInt64(fake.calls.load(ordering: .relaxed)))
        // One at a time would be 640 fsyncs; with 16 waiting per 2 ms fsync, far fewer.
        #expect(fsyncs < 640 / 3, "\(fsyncs) fsyncs in \(batches) batches for 640 calls")
    }

    @Test("two folders asked for together are both synced, each once per batch")
    func severalFolders() throws {
        let synced = Mutex<[FilePath]>([])
        let commit = GroupCommit { folder in synced.withLock { $0.append(folder) } }
        try commit.sync([FilePath("/a"), FilePath("/b"), FilePath("/a")])
        #expect(synced.withLock { $0 }.sorted { "\($0)" < "\($1)" } == [FilePath("/a"), FilePath("/b")])
    }

    @Test("a failed fsync fails every caller of its batch, and the next batch goes on")
    func failurePropagates() throws {
        let fake = SlowSync()
        fake.failBatch.store(0, ordering: .sequentiallyConsistent)
        let commit = GroupCommit { try fake.sync($0) }
        #expect(throws: SystemCallError.self) { try commit.sync([FilePath("/spool/pending")]) }
        try commit.sync([FilePath("/spool/pending")])
    }

    @Test("a real spool: 16 threads submitting at once share their pending/ fsyncs; every task is there")
    func spoolSubmitsShareFsyncs() throws {
        try withSpool { spool, _ in
            concurrently(threads: 16) { thread in
                for index in 0..<20 {
                    _ = try? spool.submit(object: ["n": index], id: TaskID("t\(thread)-\(index)"))
                }
            }
            let pending = try spool.counts()[.pending]
            #expect(pending == 320)
            let (batches, fsyncs) = spool.commitStatistics
            print("GroupCommit: 320 concurrent submits made \(fsyncs) folder fsyncs in \(batches) batches")
            #expect(fsyncs < 320, "no fsync was shared")
        }
    }
}
