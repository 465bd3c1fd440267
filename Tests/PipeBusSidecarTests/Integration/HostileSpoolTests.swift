import Foundation
import PipeBusCore
import PipeBusTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Entries in pending/ that are not tasks — a symlink out of the spool, a FIFO, a huge file,
/// invalid JSON — with a sidecar running and across its restart.
@Suite("Sidecar integration: hostile spool entries", .serialized)
struct HostileSpoolTests {
    static let hostile = ["evil-link", "evil-fifo", "evil-huge", "evil-bad"]

    /// Any log line that mentions `name` in one of its string fields.
    private func logMentions(_ sidecar: Integration.SidecarProcess, _ name: String, message: String? = nil) -> [[String: Any]] {
        sidecar.logLines().filter { line in
            if let message, !((line["msg"] as? String)?.contains(message) ?? false) { return false }
            return line.values.contains { ($0 as? String)?.contains(name) ?? false }
        }
    }

    private func fileSnapshot(_ path: String) throws -> (Data, Int, Int) {
        var info = stat()
        guard lstat(path, &info) == 0 else { throw Integration.Failure("lstat \(path): errno \(errno)") }
        return (try Data(contentsOf: URL(fileURLWithPath: path)), info.st_mtim.tv_sec, info.st_mtim.tv_nsec)
    }

    @Test("a symlink, a FIFO, a huge file and invalid JSON in pending/: refused while running, quarantined at restart, never leased, never followed or opened")
    func hostileEntries() async throws {
        let root = try Integration.Root.make(worker: "marie")
        defer { root.remove() }
        // A valid-looking task outside the spool: following the symlink would make it one.
        let target = "\(root.path)/outside/secret.json"
        try root.write(#"{"id":"evil-link","secret":"do not touch"}"#, to: target)
        let targetBefore = try fileSnapshot(target)

        let sidecar = try await Integration.SidecarProcess(root: root, heartbeatInterval: 0.5, mode: "pipe")
        let worker = Integration.LeaseWorker(root, maxInFlight: 8)
        let client = try await Integration.Client.connect(root, timeout: .seconds(10))
        do {
            _ = try await client.submit(#"{"prompt":"first"}"#, id: "good-0")
            try await eventually("good-0 completed by the pipe worker") { root.state(of: "good-0") == "completed" }

            // The hostile entries, dropped in while the sidecar runs.
            let pending = root.folder("pending")
            #expect(symlink(target, "\(pending)/evil-link.json") == 0)
            #expect(mkfifo("\(pending)/evil-fifo.json", 0o644) == 0)
            try root.write(#"{"pad":""# + String(repeating: "z", count: 1_500_000) + #""}"#, to: "\(pending)/evil-huge.json")
            try root.write(#"{"prompt": "unterminated"#, to: "\(pending)/evil-bad.json")

            // The sidecar keeps serving: health answers, a new task flows through the lease.
            _ = try await client.submit(#"{"prompt":"second"}"#, id: "good-1")
            try await eventually("good-1 completed by the pipe worker (nothing blocked)") { root.state(of: "good-1") == "completed" }
            for _ in 0..<5 {
                #expect(try await client.health(timeout: .seconds(2)).status == .serving)
            }
            // Each one is refused with a log line naming it.
            for name in Self.hostile {
                try await eventually("a log line refusing \(name).json") { !logMentions(sidecar, name).isEmpty }
            }
            // A symlink or a FIFO is never a task: left where it is (refused), or moved aside at once.
            for name in ["evil-link", "evil-fifo"] {
                let inPending = Integration.lstatKind("\(pending)/\(name).json") != nil
                let quarantined = root.names(in: root.quarantine).contains { $0.hasSuffix("\(name).json") }
                #expect(inPending != quarantined, "\(name): in pending/ \(inPending), in .quarantine/ \(quarantined)")
            }

            // Across a restart, recovery moves them all to .quarantine/.
            sidecar.process.signal(SIGTERM)
            let exit = await sidecar.process.wait(timeout: .seconds(30))
            #expect(exit?.code == 0, "\(String(describing: exit))")
            if exit == nil { await sidecar.process.killAndReap() }
            // A second set, dropped in while no sidecar runs: found by recovery at start.
            #expect(symlink(target, "\(pending)/evil2-link.json") == 0)
            #expect(mkfifo("\(pending)/evil2-fifo.json", 0o644) == 0)
            try root.write(#"{"pad":""# + String(repeating: "z", count: 1_500_000) + #""}"#, to: "\(pending)/evil2-huge.json")
            try root.write("[1, 2", to: "\(pending)/evil2-bad.json")
            // In a finished folder too: it arrived after the last heartbeat, so it is read at
            // start (older finished tasks are trusted from their status: `watchedUntil`).
            let completed = root.folder("completed")
            try root.write("not json", to: "\(completed)/evil2-done.json")
            try await sidecar.restart()
            #expect(Integration.lstatKind("\(completed)/evil2-done.json") == nil, "evil2-done.json is still in completed/")
            #expect(!logMentions(sidecar, "evil2-done", message: "quarantined").isEmpty, "no quarantine log line for evil2-done")
            for name in Self.hostile + Self.hostile.map({ $0.replacingOccurrences(of: "evil-", with: "evil2-") }) {
                #expect(Integration.lstatKind("\(pending)/\(name).json") == nil, "\(name).json is still in pending/")
                #expect(!logMentions(sidecar, name, message: "quarantined").isEmpty, "no quarantine log line for \(name)")
            }
            let quarantined = root.names(in: root.quarantine)
            #expect(quarantined.count == 2 * Self.hostile.count + 1, "\(quarantined)")
            func quarantinedKind(_ name: String) -> mode_t? {
                quarantined.first { $0.hasSuffix(".\(name).json") }.flatMap { Integration.lstatKind("\(root.quarantine)/\($0)") }
            }
            for set in ["evil", "evil2"] {
                #expect(quarantinedKind("\(set)-link") == S_IFLNK)
                #expect(quarantinedKind("\(set)-fifo") == S_IFIFO)
                #expect(quarantinedKind("\(set)-huge") == S_IFREG)
                #expect(quarantinedKind("\(set)-bad") == S_IFREG)
                if let link = quarantined.first(where: { $0.hasSuffix(".\(set)-link.json") }) {
                    #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: "\(root.quarantine)/\(link)")) == target)
                }
            }

            // Still serving after the restart; the pipe worker reconnected and takes real tasks.
            let after = try await Integration.Client.connect(root, timeout: .seconds(10))
            defer { after.close() }
            _ = try await after.submit(#"{"prompt":"third"}"#, id: "good-2")
            try await eventually("good-2 completed after the restart") { root.state(of: "good-2") == "completed" }
        } catch {
            Issue.record("sidecar log tail:\n\(sidecar.logTail(60))")
            await worker.stop()
            client.close()
            await sidecar.killEverything()
            throw error
        }
        await worker.stop()
        client.close()
        await sidecar.killEverything()

        // The pipe worker never received any of them; the symlink's target was never touched.
        #expect(!worker.received.contains { $0.hasPrefix("evil") }, "the lease handed out \(worker.received)")
        #expect(worker.received.sorted() == ["good-0", "good-1", "good-2"])
        let targetAfter = try fileSnapshot(target)
        #expect(targetAfter.0 == targetBefore.0, "the symlink's target was modified")
        #expect(targetAfter.1 == targetBefore.1 && targetAfter.2 == targetBefore.2, "the symlink's target mtime changed")
        #expect(Integration.lstatKind(target) == S_IFREG)
    }
}
