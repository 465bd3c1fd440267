import PipeBusCore
import PipeBusTasks
import Testing

/// DESIGN §2's paths under the root, as the runbook's snippets spell them; built only here.
@Suite struct LayoutTests {
    let layout = RootLayout(root: "/shared")

    @Test func theRunbooksPaths() {
        #expect(layout.heartbeatPath(worker: "marie") == "/shared/workers/marie/heartbeat.json")
        #expect(layout.stateDirectory(worker: "marie", folder: "active") == "/shared/tasks/marie/active")
        #expect(layout.configPath(worker: "marie") == "/shared/config/marie.json")
        #expect(layout.incidentsDirectory == "/shared/incidents")
        #expect(RootLayout.taskFileName(id: "task-123") == "task-123.json")
    }

    @Test func theSidecarsOwnFiles() {
        #expect(layout.pipesDirectory(worker: "marie", instance: "i1") == "/shared/workers/marie/instances/i1/pipes")
        #expect(layout.heartbeatPath(worker: "marie", instance: "i1") == "/shared/workers/marie/instances/i1/heartbeat.json")
        #expect(layout.instanceLockPath(worker: "marie", instance: "i1") == "/shared/workers/marie/instances/i1/instance.lock")
        #expect(layout.leaseDirectory(worker: "marie", instance: "i1") == "/shared/workers/marie/instances/i1/leases")
        #expect(layout.workerRecordPath(worker: "marie", instance: "i1") == "/shared/workers/marie/instances/i1/worker.json")
        #expect(layout.retirementPath(worker: "marie") == "/shared/workers/marie/retired.json")
        #expect(layout.retirementPath(worker: "marie", instance: "i1") == "/shared/workers/marie/instances/i1/retired.json")
        #expect(layout.leaderLockPath(worker: "marie") == "/shared/workers/marie/leader.lock")
        #expect(layout.reportedDirectory(worker: "marie") == "/shared/workers/marie/reported")
        #expect(layout.quarantineDirectory(worker: "marie") == "/shared/tasks/marie/.quarantine")
    }

    @Test func theSpoolOfOneWorker() throws {
        let spool = try SpoolLayout(root: "/shared", worker: "marie")
        #expect(spool.workerDirectory == "/shared/tasks/marie")
        #expect(TaskState.allCases.map(spool.directory(for:)) == [
            "/shared/tasks/marie/pending", "/shared/tasks/marie/active", "/shared/tasks/marie/completed",
            "/shared/tasks/marie/failed",
        ])
        #expect(spool.path(of: try TaskID("task-1"), in: .failed) == "/shared/tasks/marie/failed/task-1.json")
        #expect(spool.quarantineDirectory == "/shared/tasks/marie/.quarantine")
    }

    /// A worker name is one path component by the same rule everywhere: the spool used to take
    /// task-id rules (dots, 128 bytes) while the sidecar and the CLI refused them.
    @Test(arguments: ["..", "../etc", "a/b", "", "a.b", "a b", String(repeating: "w", count: 65)])
    func theSpoolRefusesAWorkerNameThatIsNotOneComponent(_ worker: String) {
        let error = expectRPCError(.invalidArgument) { _ = try SpoolLayout(root: "/shared", worker: worker) }
        #expect(error?.message.contains("invalid worker name") == true)
    }
}
