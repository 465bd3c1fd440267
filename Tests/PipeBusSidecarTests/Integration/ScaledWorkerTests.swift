import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// DESIGN §6: "Several instances of one worker (the runbook's `docker-compose scale marie=2`)
/// share the worker's spool as competing consumers; each instance has its own FIFOs and lock."
@Suite("Sidecar integration: a scaled-out worker", .serialized)
struct ScaledWorkerTests {
    @Test(
        "a second instance of the same worker (another --instance) runs beside the first with FIFOs of its own",
        .disabled("scale-out is issue 9: instances share workers/<worker>/pipes and its lock today")
    )
    func twoInstancesOfOneWorker() async throws {
        let root = try Integration.Root.make(worker: "marie")
        defer { root.remove() }
        let first = try await Integration.SidecarProcess(root: root, heartbeatInterval: 0.5)
        let secondLog = "\(root.path)/sidecar-second.log"
        let second = try Integration.Spawned(
            [
                Integration.executable, "sidecar", "--worker", root.worker, "--root", root.path,
                "--heartbeat-interval", "0.5", "--metrics-address", "none", "--instance", "it-2",
            ],
            output: secondLog
        )
        defer { _ = kill(second.pid, SIGKILL); _ = second.poll() }
        // Either it fails to start (and exits), or it listens on a pipe directory of its own.
        let listening = try await Integration.value("the second instance to listen, or to exit", timeout: .seconds(20)) { () -> String? in
            if let exit = second.poll() { return "exited: \(exit)" }
            let lines = second.output.split(separator: "\n").filter { $0.contains("\"msg\":\"listening\"") }
            return lines.first.map(String.init)
        }
        #expect(!listening.hasPrefix("exited"), "the second instance could not start (\(listening)): \(second.output.split(separator: "\n").suffix(2).joined(separator: "\n"))")
        #expect(first.process.isRunning)
        if !listening.hasPrefix("exited") {
            #expect(!listening.contains("\"\(root.workerDirectory)/pipes\""), "both instances in one pipe directory: \(listening)")
        }
        await first.killEverything()
        second.signal(SIGKILL)
        _ = await second.wait(timeout: .seconds(10))
    }
}
