import Foundation
import PipeBusCore
import PipeBusTasks
import Testing

@testable import PipeBusSidecar

#if canImport(Glibc)
import Glibc
#endif

@Suite("TaskSpool transitions")
struct TaskSpoolTransitionTests {
    @Test("claim moves pending → active, counts the attempt and restarts the age")
    func claim() throws {
        try withSpool { spool, _ in
            let id = try TaskID("task-1")
            try spool.submit(object: ["prompt": "p"], id: id)
            try makeOld(spool.layout.path(of: id, in: .pending), by: .seconds(900))
            let record = try spool.claim(id)
            #expect(record.state == .active)
            #expect(record.attempts == 1)
            #expect(SpoolClock.age(of: record.modified) < .seconds(60))
            #expect(try entries(spool.layout.directory(for: .pending)).isEmpty)
            #expect(try entries(spool.layout.directory(for: .active)) == ["task-1.json"])
            #expect(try record.object()["prompt"] as? String == "p")
        }
    }

    @Test("a move without update also restarts the age (the runbook measures it by mtime)")
    func plainMoveTouches() throws {
        try withSpool { spool, _ in
            let id = try TaskID("task-1")
            try spool.submit(object: [:], id: id)
            try makeOld(spool.layout.path(of: id, in: .pending), by: .seconds(900))
            let record = try spool.transition(id, from: .pending, to: .active)
            #expect(SpoolClock.age(of: record.modified) < .seconds(60))
            #expect(record.attempts == 0)
        }
    }

    @Test("complete and fail write result or error before the file arrives")
    func completeAndFail() throws {
        try withSpool { spool, _ in
            let a = try TaskID("a")
            let b = try TaskID("b")
            for id in [a, b] {
                try spool.submit(object: [:], id: id)
                try spool.claim(id)
            }
            let done = try spool.complete(a, result: ["answer": 42])
            #expect(done.state == .completed && done.hasResult && !done.hasError)
            #expect(
                (try readObject(spool.layout.path(of: a, in: .completed))["result"] as? [String: Any])?["answer"]
                    as? Int == 42
            )
            let failed = try spool.fail(b, error: "claude exited 1")
            #expect(failed.state == .failed && failed.errorMessage == "claude exited 1")
            #expect(try spool.counts() == [.pending: 0, .active: 0, .completed: 1, .failed: 1])
        }
    }

    @Test("a transition never overwrites: an existing destination is ALREADY_EXISTS, both files untouched")
    func noOverwrite() throws {
        try withSpool { spool, _ in
            let id = try TaskID("task-1")
            try spool.submit(object: ["v": "pending"], id: id)
            let squatter = spool.layout.path(of: id, in: .active)
            try writeByHand(squatter, #"{"v": "already active"}"#)
            expectRPCError(.alreadyExists) { try spool.claim(id) }
            expectRPCError(.alreadyExists) { try spool.transition(id, from: .pending, to: .active) }
            #expect(try readObject(squatter)["v"] as? String == "already active")
            let pending = try readObject(spool.layout.path(of: id, in: .pending))
            #expect(pending["v"] as? String == "pending")
            #expect(pending["attempts"] as? Int == 0)
        }
    }

    @Test("a claim whose task was taken by someone else is ABORTED (lost the race)")
    func lostClaim() throws {
        try withSpool { spool, _ in
            let id = try TaskID("task-1")
            try spool.submit(object: [:], id: id)
            // Another consumer (a spool worker renaming by hand) wins.
            #expect(rename(spool.layout.path(of: id, in: .pending), spool.layout.path(of: id, in: .active)) == 0)
            let error = expectRPCError(.aborted) { try spool.claim(id) }
            #expect(error?.message.contains("lost the race") == true)
            expectRPCError(.aborted) { try spool.transition(id, from: .pending, to: .failed) }
            expectRPCError(.notFound) { try spool.complete(TaskID("never-was"), result: 1) }
            expectRPCError(.aborted) { try spool.claim(TaskID("never-was")) }
        }
    }

    @Test("update rewrites in place; a task moved away meanwhile is not brought back")
    func updateInPlace() throws {
        try withSpool { spool, _ in
            let id = try TaskID("task-1")
            try spool.submit(object: ["n": 1], id: id)
            let record = try spool.update(id, in: .pending) { $0["n"] = 2 }
            #expect(try record.object()["n"] as? Int == 2)
            #expect(try entries(spool.layout.directory(for: .pending)) == ["task-1.json"])
            try spool.claim(id)
            expectRPCError(.aborted) { try spool.update(id, in: .pending) { $0["n"] = 3 } }
            #expect(try entries(spool.layout.directory(for: .pending)).isEmpty)
        }
    }

    @Test("a failed update out of pending/ puts the task back")
    func updateFailureUndoesClaim() throws {
        var configuration = TaskSpool.Configuration.defaults
        configuration.maxTaskBytes = 4096
        try withSpool(configuration: configuration) { spool, _ in
            let id = try TaskID("task-1")
            try spool.submit(object: [:], id: id)
            expectRPCError(.resourceExhausted) {
                try spool.transition(id, from: .pending, to: .active) {
                    $0["blob"] = String(repeating: "x", count: 5000)
                }
            }
            #expect(try spool.get(id)?.state == .pending)
            #expect(try entries(spool.layout.directory(for: .active)).isEmpty)
        }
    }

    @Test("two threads racing to claim the same 200 tasks: each is claimed exactly once", .timeLimit(.minutes(1)))
    func concurrentClaims() throws {
        try withSpool { spool, _ in
            let ids = try (0..<200).map { try TaskID(String(format: "race-%03d", $0)) }
            for id in ids { try spool.submit(object: [:], id: id) }
            let outcomes = (0..<2).map { _ in ClaimOutcome() }
            let threads = outcomes.enumerated().map { worker, outcome in
                OSThread(name: "claimer-\(worker)") {
                    for id in ids {
                        do {
                            try spool.claim(id)
                            outcome.won.append(id)
                        } catch let error as RPCError where error.code == .aborted {
                            continue  // the other thread won: not an error
                        } catch {
                            outcome.errors.append("\(error)")
                        }
                    }
                }
            }
            for thread in threads { thread.join() }
            #expect(outcomes.flatMap(\.errors).isEmpty)
            let all = outcomes.flatMap(\.won)
            #expect(all.count == 200)
            #expect(Set(all) == Set(ids))
            #expect(try spool.counts() == [.pending: 0, .active: 200, .completed: 0, .failed: 0])
            #expect(try spool.list(.active).allSatisfy { $0.attempts == 1 })
            #expect(try entries(spool.layout.directory(for: .active)).allSatisfy { !$0.hasPrefix(".") })
        }
    }
}

/// What one claiming thread saw; written by that thread only, read after it is joined.
private final class ClaimOutcome: @unchecked Sendable {
    var won: [TaskID] = []
    var errors: [String] = []
}
