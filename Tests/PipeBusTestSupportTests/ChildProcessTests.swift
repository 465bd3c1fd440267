import Foundation
import PipeBusTestSupport
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The shared spawner: what the suites rely on it for, each shown failing the way a broken one would.
@Suite("ChildProcess", .timeLimit(.minutes(1)))
struct ChildProcessTests {
    @Test("run: the exit code and both outputs, kept apart or interleaved")
    func runCapturesExitAndOutput() async throws {
        let apart = try await ChildProcess.run(["/bin/sh", "-c", "echo out; echo err >&2; exit 3"])
        #expect(apart.exit == .code(3), "\(apart)")
        #expect(apart.exit.code == 3 && apart.exit.signal == nil)
        #expect(apart.stdout == "out\n" && apart.stderr == "err\n", "\(apart)")

        let merged = try await ChildProcess.run(["/bin/sh", "-c", "echo one; echo two >&2; echo three"], mergingStderr: true)
        #expect(merged.stdout == "one\ntwo\nthree\n", "\(merged)")
        #expect(merged.exit.shellStatus == 0)
    }

    @Test("stdin text reaches the child, then end of file")
    func stdinText() async throws {
        let finished = try await ChildProcess.run(["/bin/cat"], stdin: .text("line 1\nline 2\n"))
        #expect(finished.stdout == "line 1\nline 2\n", "\(finished)")
    }

    @Test("a child that cannot start is an error naming the program")
    func missingProgram() {
        #expect(throws: TestSupportError.self) { try ChildProcess(["/nonexistent/program"]) }
    }

    @Test("everything the child wrote is there once its exit is known, however much")
    func outputIsCompleteAtExit() async throws {
        // 4 MiB, far beyond a pipe's buffer: the child only finishes if the output is read as it comes.
        let child = try ChildProcess(["/bin/sh", "-c", "head -c 4194304 /dev/zero; echo; echo last"])
        let exit = try await child.exitStatus(within: .seconds(30))
        #expect(exit == .code(0))
        #expect(child.stdout.utf8.count == 4_194_304 + 1 + 5)
        #expect(child.stdoutLines.last == "last")
    }

    @Test("the exit is reported though a grandchild still holds the output; the group is killed")
    func grandchildHoldingStdout() async throws {
        let child = try ChildProcess(["/bin/sh", "-c", "sleep 100 & echo $!"], newProcessGroup: true)
        defer { child.stop() }
        #expect(try await child.exitStatus(within: .seconds(10)) == .code(0))
        let grandchild = try #require(Int32(try await child.line("the grandchild's pid") { !$0.isEmpty }))
        #expect(kill(grandchild, 0) == 0, "the grandchild runs on")
        child.signalGroup(SIGKILL)
        try await eventually("the grandchild to be gone") { kill(grandchild, 0) != 0 || Self.isZombie(grandchild) }
    }

    @Test("lines are awaited; a child that ends without the line is a failure, with what it printed")
    func awaitingLines() async throws {
        let child = try ChildProcess(["/bin/sh", "-c", "echo starting; sleep 0.2; echo ready 42; sleep 100"])
        defer { child.stop() }
        #expect(try await child.line(startingWith: "ready") == "ready 42")
        #expect(child.isRunning)

        let quiet = try ChildProcess(["/bin/sh", "-c", "echo something else"])
        let error = await #expect(throws: TestSupportError.self) { try await quiet.line(startingWith: "ready") }
        #expect(error?.description.contains("something else") == true, "\(String(describing: error))")
    }

    @Test("signals: SIGTERM ends it although the spawning thread blocks SIGTERM; terminate, stop")
    func signals() async throws {
        // Spawned from a thread that blocks SIGTERM, as a concurrency-pool thread may: the child
        // must not inherit the mask.
        let spawned = Mutex<Result<ChildProcess, any Error>?>(nil)
        let thread = Thread {
            var blocked = sigset_t()
            sigemptyset(&blocked)
            sigaddset(&blocked, SIGTERM)
            pthread_sigmask(SIG_BLOCK, &blocked, nil)
            spawned.withLock { $0 = Result { try ChildProcess(["/bin/sleep", "100"]) } }
        }
        thread.start()
        let child = try await eventuallyValue("the spawning thread") { spawned.withLock { $0 } }.get()
        defer { child.stop() }
        child.signal(SIGTERM)
        #expect(try await child.exitStatus() == .signal(SIGTERM))

        let stubborn = try ChildProcess(["/bin/sh", "-c", "trap '' TERM; echo trapped; exec sleep 100"])
        _ = try await stubborn.line(startingWith: "trapped")
        #expect(await stubborn.terminate(grace: .milliseconds(200)) == .signal(SIGKILL))

        let stopped = try ChildProcess(["/bin/sleep", "100"])
        stopped.stop()
        #expect(stopped.exited == .signal(SIGKILL))
        // Reaped: the pid is no longer a child of this process.
        var status: Int32 = 0
        #expect(waitpid(stopped.pid, &status, WNOHANG) == -1 && errno == ECHILD)
    }

    @Test("the child holds no descriptor of the test process but its stdio")
    func noInheritedDescriptors() async throws {
        // Opened without close-on-exec, as SwiftNIO opens its sockets.
        let leaky = open("/dev/null", O_RDONLY)
        defer { close(leaky) }
        #expect(leaky > 2)
        // `ls` opens the directory it lists: one descriptor of its own besides 0-2.
        let listing = try await ChildProcess.run(["/bin/ls", "/proc/self/fd"])
        let descriptors = Set(listing.stdout.split(separator: "\n").compactMap { Int32($0) })
        #expect(!descriptors.contains(leaky), "the child inherited fd \(leaky): \(descriptors)")
        #expect(descriptors.subtracting([0, 1, 2]).count <= 1, "\(descriptors)")
    }

    static func isZombie(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return true }
        return stat[stat.index(close, offsetBy: 2)] == "Z"
    }
}
