import Foundation
import PipeBusCore
import PipeBusTasks
import PipeBusTestSupport
import Testing

@testable import PipeBusSidecar

#if canImport(Glibc)
import Glibc
#endif

@Suite("TaskSpool on a full disk")
struct TaskSpoolDiskFullTests {
    /// Mounting a tmpfs needs root (CI runs as root); elsewhere the test does not run.
    static let canMount = getuid() == 0

    /// Mounts a 64 KiB tmpfs for `body`; false when the mount failed.
    private func withSmallDisk(_ body: (String) throws -> Void) throws -> Bool {
        try withTemporaryDirectory { directory in
            guard run("/bin/mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", directory]) else { return false }
            defer { run("/bin/umount", ["-l", directory]) }
            try body(directory)
            return true
        }
    }

    @discardableResult
    private func run(_ tool: String, _ arguments: [String]) -> Bool {
        guard let process = try? ChildProcess([tool] + arguments, stdout: .null, stderr: .null) else { return false }
        return process.waitBlocking(timeout: .seconds(30)) == .code(0)
    }

    @Test(
        "submit on a full disk is RESOURCE_EXHAUSTED and leaves nothing half-written; freeing space heals it",
        .enabled(if: canMount, "mounting a tmpfs needs root")
    )
    func diskFull() throws {
        let ran = try withSmallDisk { root in
            let spool = try TaskSpool(root: root, worker: "marie", logger: LogRecorder().logger)
            let pending = spool.layout.directory(for: .pending)
            // ~10 KiB per task, so the disk fills in the middle of a file, not between files.
            let payload = String(repeating: "x", count: 10_000)
            var submitted: [TaskID] = []
            var failure: RPCError?
            for index in 0..<100 {
                do {
                    submitted.append(try spool.submit(object: ["payload": payload], id: TaskID("fill-\(index)")).id)
                } catch let error as RPCError {
                    failure = error
                    break
                }
            }
            let error = try #require(failure, "the 64 KiB disk never filled")
            #expect(error.code == .resourceExhausted)
            #expect(error.message.contains("spool disk full"))
            #expect(error.message.contains(pending))
            #expect(error.cause?.contains("ENOSPC") == true)
            #expect(!submitted.isEmpty)
            // Nothing half-written: no temp file, and every task file is whole.
            let names = try entries(pending)
            #expect(names == submitted.map(\.fileName).sorted())
            for name in names {
                #expect(try readObject("\(pending)/\(name)")["payload"] as? String == payload)
            }
            // Free space and submit again.
            try spool.remove(submitted[0])
            try spool.remove(submitted[1])
            let record = try spool.submit(object: ["payload": payload], id: TaskID("after"))
            #expect(try spool.get(record.id)?.state == .pending)
        }
        #expect(ran, "mount -t tmpfs failed as root: the disk-full path was not exercised")
    }
}
