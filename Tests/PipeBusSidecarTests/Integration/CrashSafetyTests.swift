import Foundation
import PipeBusCore
import PipeBusTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A sidecar SIGKILLed at random moments under load, restarted again and again: nothing
/// acknowledged is lost, nothing is torn, nothing is in two places.
@Suite("Sidecar integration: crash safety", .serialized)
struct CrashSafetyTests {
    static let restarts = 24

    @Test("SIGKILL at random moments under submit and lease load, 24 restarts: every acknowledged task in exactly one folder, none torn, no temp file left")
    func killedUnderLoad() async throws {
        let root = try Integration.Root.make(worker: "marie")
        defer { root.remove() }
        let sidecar = try await Integration.SidecarProcess(root: root, heartbeatInterval: 0.2, mode: "pipe")
        let load = Integration.SubmitLoad(root, prefix: "crash", payload: #"{"prompt":"crash test","blob":"\#(String(repeating: "x", count: 2000))"}"#)
        let worker = Integration.LeaseWorker(root, maxInFlight: 4)
        var generator = SystemRandomNumberGenerator()
        do {
            for round in 0..<Self.restarts {
                // Load is flowing into this incarnation before it is killed.
                let before = load.acknowledged.count
                try await eventually("round \(round): submits acknowledged by the new sidecar", timeout: .seconds(20)) {
                    load.acknowledged.count >= before + 5
                }
                // A random moment (not a wait for a condition: the randomness is the point).
                try await Task.sleep(for: .milliseconds(Int.random(in: 0...250, using: &generator)))
                let exit = await sidecar.process.killAndReap()
                #expect(exit?.signal == SIGKILL, "round \(round): \(String(describing: exit))")
                if round == Self.restarts - 1 {
                    // Stop the load while the sidecar is dead, so that what the last restart's
                    // recovery leaves is what is checked.
                    await load.stop()
                    await worker.stop()
                }
                try await sidecar.restart()
            }
        } catch {
            await load.stop()
            await worker.stop()
            await sidecar.killEverything()
            Issue.record("sidecar log tail:\n\(sidecar.logTail(60))")
            throw error
        }

        // Recovery ran at the last start: the spool folders hold no temp file.
        let spoolTemporaries = Integration.temporaryFiles(under: root.tasksDirectory)
        #expect(spoolTemporaries.isEmpty, "temp files left in the spool after the final restart's recovery: \(spoolTemporaries)")

        // Then a clean stop, and the whole root is checked at rest.
        sidecar.process.signal(SIGTERM)
        let exit = await sidecar.process.wait(timeout: .seconds(30))
        #expect(exit?.code == 0, "SIGTERM exit: \(String(describing: exit))")
        if exit == nil { await sidecar.killEverything() }

        let acknowledged = load.acknowledged
        #expect(acknowledged.count >= 100, "too little load to mean anything: \(acknowledged.count) acknowledged")
        let problems = Integration.spoolProblems(root, acknowledged: acknowledged)
        #expect(problems.isEmpty, "\(problems.count) problems:\n\(problems.prefix(40).joined(separator: "\n"))")
        for id in worker.finished {
            #expect(root.state(of: id) == "completed", "\(id) was finished (acknowledged) but is in \(root.locations()[id] ?? [])")
        }
        // Outside the spool: the heartbeat's and the config's temp files (workers/, config/).
        let otherTemporaries = Integration.temporaryFiles(under: root.path).filter { !$0.hasPrefix("tasks/") }
        #expect(otherTemporaries.isEmpty, "temp files left outside the spool: \(otherTemporaries)")
        print(
            "crash safety: \(Self.restarts) SIGKILLs; \(acknowledged.count) submits acknowledged of \(load.attempted.count) tried;",
            "\(worker.finished.count) finished by the lease worker; client errors \(load.errors);",
            "final spool \(Integration.Root.states.map { "\($0)=\(root.taskIDs($0).count)" }.joined(separator: " "))"
        )
    }

    @Test("group commit under SIGKILL: 16 concurrent submitters and a lease worker, 8 restarts: every acknowledged task on disk exactly once, none torn")
    func killedUnderConcurrentSubmitters() async throws {
        let root = try Integration.Root.make(worker: "marie")
        defer { root.remove() }
        let sidecar = try await Integration.SidecarProcess(root: root, heartbeatInterval: 0.2, mode: "pipe")
        // Each load has its own connection, so its submits run on a server thread of their own
        // and reach the spool together: their pending/ fsyncs are shared.
        let loads = (0..<16).map { index in
            Integration.SubmitLoad(root, prefix: "group\(index)", payload: #"{"prompt":"group commit","n":\#(index)}"#)
        }
        let worker = Integration.LeaseWorker(root, maxInFlight: 16)
        func acknowledgedCount() -> Int { loads.reduce(0) { $0 + $1.acknowledged.count } }
        func stopAll() async {
            for load in loads { await load.stop() }
            await worker.stop()
        }
        var generator = SystemRandomNumberGenerator()
        do {
            for round in 0..<8 {
                let before = acknowledgedCount()
                try await eventually("round \(round): submits acknowledged by the new sidecar", timeout: .seconds(30)) {
                    acknowledgedCount() >= before + 32
                }
                try await Task.sleep(for: .milliseconds(Int.random(in: 0...250, using: &generator)))
                let exit = await sidecar.process.killAndReap()
                #expect(exit?.signal == SIGKILL, "round \(round): \(String(describing: exit))")
                if round == 7 { await stopAll() }
                try await sidecar.restart()
            }
        } catch {
            await stopAll()
            await sidecar.killEverything()
            Issue.record("sidecar log tail:\n\(sidecar.logTail(60))")
            throw error
        }
        sidecar.process.signal(SIGTERM)
        let exit = await sidecar.process.wait(timeout: .seconds(30))
        #expect(exit?.code == 0, "SIGTERM exit: \(String(describing: exit))")
        if exit == nil { await sidecar.killEverything() }

        let acknowledged = loads.flatMap(\.acknowledged)
        #expect(acknowledged.count >= 16 * 10, "too little load to mean anything: \(acknowledged.count) acknowledged")
        #expect(Set(acknowledged).count == acknowledged.count, "an id was acknowledged twice")
        let problems = Integration.spoolProblems(root, acknowledged: acknowledged)
        #expect(problems.isEmpty, "\(problems.count) problems:\n\(problems.prefix(40).joined(separator: "\n"))")
        for id in worker.finished {
            #expect(root.state(of: id) == "completed", "\(id) was finished (acknowledged) but is in \(root.locations()[id] ?? [])")
        }
        let temporaries = Integration.temporaryFiles(under: root.tasksDirectory)
        #expect(temporaries.isEmpty, "temp files left in the spool: \(temporaries)")
        print(
            "group commit under SIGKILL: 8 SIGKILLs; \(acknowledged.count) submits acknowledged by 16 submitters;",
            "\(worker.finished.count) finished; final spool \(Integration.Root.states.map { "\($0)=\(root.taskIDs($0).count)" }.joined(separator: " "))"
        )
    }

    @Test("a pipe-mode sidecar SIGKILLed while tasks are leased: after its restart they are handed out again, not stranded in active/")
    func leasedTasksOfACrashedSidecar() async throws {
        let root = try Integration.Root.make(worker: "marie")
        defer { root.remove() }
        let sidecar = try await Integration.SidecarProcess(root: root, heartbeatInterval: 0.5, mode: "pipe")
        let worker = Integration.LeaseWorker(root, maxInFlight: 3, hold: true)
        do {
            let client = try await Integration.Client.connect(root, timeout: .seconds(10))
            let ids = ["leased-0", "leased-1", "leased-2"]
            for id in ids { _ = try await client.submit(#"{"prompt":"p"}"#, id: id) }
            client.close()
            try await eventually("the pipe worker to hold all 3") { Set(worker.received) == Set(ids) }
            #expect(root.taskIDs("active").sorted() == ids)

            await sidecar.process.killAndReap()
            try await sidecar.restart()
            // The worker reconnects and leases again; the tasks the dead incarnation had handed out
            // must come back (DESIGN §1: the sidecar owns a pipe worker's renames; a lost lease
            // returns its tasks to pending/).
            try await eventually("the 3 leased tasks re-queued or re-leased after the restart", timeout: .seconds(10)) {
                worker.received.count >= 6 || root.taskIDs("pending").count == 3
            }
        } catch {
            print("leased tasks after the restart: \(Integration.Root.states.map { "\($0)=\(root.taskIDs($0))" })")
            await worker.stop()
            await sidecar.killEverything()
            throw error
        }
        await worker.stop()
        await sidecar.killEverything()
    }
}
