import Foundation
import Testing

extension Integration {
    /// A root for worker "marie" with the runbook's scripts installed in `<root>/runbook`, a
    /// sidecar and a client; the body gets them and the scripts' folder. When it throws, the
    /// sidecar's log tail is recorded; everything is stopped and removed either way.
    static func withRunbookSidecar(
        mode: String = "spool",
        metrics: Bool = false,
        _ body: (Root, SidecarProcess, Client, String) async throws -> Void
    ) async throws {
        let root = try Root.make(worker: "marie")
        defer { root.remove() }
        let scripts = "\(root.path)/runbook"
        try RunbookScripts.install(in: scripts)
        let sidecar = try await SidecarProcess(root: root, mode: mode, metrics: metrics)
        let client = try await Client.connect(root, timeout: .seconds(10))
        do {
            try await body(root, sidecar, client, scripts)
        } catch {
            Issue.record("sidecar log tail:\n\(sidecar.logTail(60))")
            client.close()
            await sidecar.killEverything()
            throw error
        }
        client.close()
        await sidecar.killEverything()
    }
}
