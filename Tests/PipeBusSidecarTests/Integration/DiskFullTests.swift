import Foundation
import PipeBusCore
import PipeBusTestSupport
import Testing
import PipeBusHealth

#if canImport(Glibc)
import Glibc
#endif

/// The root on a 2 MiB tmpfs, filled up under a running sidecar, then freed again.
@Suite("Sidecar integration: disk full", .serialized)
struct DiskFullTests {
    /// Fills the file system of `directory` to the last byte through `filler` (appending):
    /// 64 KiB writes, then single pages, until ENOSPC. Call again to take back space that the
    /// sidecar freed meanwhile (a heartbeat replacing the previous one frees a page).
    private static func fill(_ filler: String) throws {
        let fd = open(filler, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw Integration.Failure("open \(filler): errno \(errno)") }
        defer { close(fd) }
        for size in [64 * 1024, 4096, 512, 1] {
            let chunk = [UInt8](repeating: 0x78, count: size)
            while chunk.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) > 0 {}
            guard errno == ENOSPC else { throw Integration.Failure("write \(filler): errno \(errno)") }
        }
        _ = fsync(fd)
    }

    private static func freeBytes(_ path: String) -> Int {
        var info = statvfs()
        guard statvfs(path, &info) == 0 else { return -1 }
        return Int(info.f_bavail) * Int(info.f_frsize)
    }

    @Test("a full spool disk: submit fails with RESOURCE_EXHAUSTED/UNAVAILABLE and health goes NOT_SERVING; both recover when space is freed")
    func fullDiskAndRecovery() async throws {
        let mountpoint = try Integration.Root.make(worker: "marie")
        defer { mountpoint.remove() }
        guard mount("tmpfs", mountpoint.path, "tmpfs", 0, "size=2m,mode=0700") == 0 else {
            let reason = String(cString: strerror(errno))
            try Test.cancel("cannot mount a tmpfs here (\(reason)); this test needs root (CAP_SYS_ADMIN)")
        }
        // Unmounted even when the test fails (lazily: a killed sidecar may still hold a descriptor).
        defer { umount2(mountpoint.path, Int32(MNT_DETACH)) }
        let root = mountpoint
        let filler = "\(root.path)/filler"

        let sidecar = try await Integration.SidecarProcess(root: root, heartbeatInterval: 0.5)
        let client = try await Integration.Client.connect(root, timeout: .seconds(10))
        defer { client.close() }
        do {
            _ = try await client.submit(#"{"prompt":"before"}"#, id: "before-full")
            try await eventually("SERVING before the disk fills") {
                try await client.health().status == .serving
            }

            // Fill the disk; keep it full until the sidecar has noticed (≤ a few heartbeats).
            try Self.fill(filler)
            let notServing = try await eventuallyValue("NOT_SERVING within a few heartbeat intervals of the disk filling", timeout: .seconds(3)) {
                () -> Pipebus_Health_V1_HealthCheckResponse? in
                try Self.fill(filler)
                let health = try await client.health()
                return health.status == .notServing ? health : nil
            }
            #expect(notServing.message.contains("spool is not writable"), "\(notServing.message)")
            #expect(notServing.message.lowercased().contains("space") || notServing.message.contains("ENOSPC"), "\(notServing.message)")

            // A submit fails with a clear status and leaves nothing behind.
            try Self.fill(filler)
            let big = String(repeating: "y", count: 16 * 1024)
            do {
                let info = try await client.submit(#"{"prompt":"\#(big)"}"#, id: "while-full")
                Issue.record("a submit on a full disk was acknowledged: \(info.id); free bytes now \(Self.freeBytes(root.path))")
            } catch let error as RPCError {
                #expect(error.code == .resourceExhausted || error.code == .unavailable, "\(error)")
                #expect(error.message.contains("No space left") || error.message.lowercased().contains("disk full"), "\(error.message)")
            }
            #expect(root.state(of: "while-full") == nil)
            #expect(Integration.temporaryFiles(under: root.tasksDirectory).isEmpty)
            // The sidecar still answers over the pipe while the disk is full.
            #expect(try await client.status().pending == 1)

            // Free the space: both recover.
            unlink(filler)
            try await eventually("SERVING again within a few heartbeat intervals of freeing space", timeout: .seconds(5)) {
                try await client.health().status == .serving
            }
            let after = try await client.submit(#"{"prompt":"\#(big)"}"#, id: "after-full")
            #expect(after.state == .pending)
            #expect(root.state(of: "after-full") == "pending")
            #expect(root.state(of: "before-full") == "pending")
            #expect(Integration.spoolProblems(root, acknowledged: ["before-full", "after-full"]).isEmpty)
            let heartbeat = try #require(root.heartbeat())
            #expect(heartbeat["health"] as? String != nil)
        } catch {
            Issue.record("sidecar log tail:\n\(sidecar.logTail(40))")
            await sidecar.killEverything()
            throw error
        }
        await sidecar.killEverything()
    }
}
