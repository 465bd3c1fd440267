import PipeBusCore
import PipeBusPipes
import PipeBusTestSupport
import Testing
import PipeBusEcho

#if canImport(Glibc)
import Glibc
#endif

extension PipeTransportTests {
    /// Faults injected into a server running in another process (`pipebus-test-peer serve`, the
    /// same `PipeServer` a sidecar runs) while client processes keep calling it (issue #7 §3).
    /// Each fault stays with the faulty client: it is counted by reason (the server prints its
    /// counts when it stops), the other clients' p99 stays under 100 ms, and the server keeps no
    /// FIFO and no descriptor of it.
    @Suite
    struct PeerServerFaultTests {
        /// The bound on the other clients' 99th percentile call latency while a fault is injected.
        static let p99Bound: Int64 = 100_000

        /// A client that opens an endless stream and never reads: the server's write into its full
        /// pipe times out (2 s), it is cut off as `slow_consumer`, its queue stays bounded (the
        /// server's resident size does not grow with what it would have sent), and three other
        /// client processes calling all along keep their latency.
        @Test func slowConsumerIsCutOffAndOthersKeepTheirLatency() async throws {
            let directory = try TemporaryDirectory()
            defer { directory.remove() }
            let server = try await ServerPeer.start(in: directory)
            defer { server.process.stop() }
            let before = try server.resources()

            let callers = try await Callers.start(3, in: directory, calls: 300, intervalMilliseconds: 10)
            defer { callers.stop() }
            let hog = try await RawPipeClient.connect(to: directory.pipes, sendHello: true)
            let request = EchoService.repeatRequest(count: .max, payload: [UInt8](repeating: 0x48, count: 16 * 1024))
            try hog.write(
                RawPipeClient.frame(
                    Envelope(streamID: 1, kind: .open, endStream: true, method: Pipebus_Testing_V1_Echo.Method.Repeat.descriptor.fullName, message: request)
                )
            )
            let p99s = try await callers.finish()
            #expect(p99s.allSatisfy { $0 < Self.p99Bound }, "p99 per client (µs): \(p99s)")

            // Cut off: what the server had written, then end of stream, without our reading a byte
            // until now.
            let written = try await hog.readUntilEndOfStream(within: .seconds(10))
            #expect(written.contains { $0.kind == .message }, "the stream never started")
            try await server.expectBackTo(before, "after the slow consumer was cut off")
            let after = try server.resources()
            #expect(
                after.residentBytes - before.residentBytes < 32 << 20,
                "resident size grew from \(before.residentBytes) to \(after.residentBytes) bytes"
            )
            #expect(try await server.stop() == "stopped errors=slow_consumer:1")
            print("slow consumer: others' p99 \(p99s) µs; server before \(before), after \(after)")
        }

        /// Connect records naming FIFOs the client never opens (half of them created and never
        /// opened, half never created), two hundred of them, while two clients call: each is
        /// refused at once (`connect_refused`), nobody is held up, and every refused pair is gone.
        @Test func hundredsOfConnectRecordsForFIFOsNeverOpened() async throws {
            let directory = try TemporaryDirectory()
            defer { directory.remove() }
            let server = try await ServerPeer.start(in: directory)
            defer { server.process.stop() }
            let before = try server.resources()

            let callers = try await Callers.start(2, in: directory, calls: 300, intervalMilliseconds: 5)
            defer { callers.stop() }
            for index in 0..<200 {
                let id = RawPipeClient.newID()
                if index.isMultiple(of: 2) {
                    try RawPipeClient.makeFIFO(directory.pipes.path + "/\(id).c2s")
                    try RawPipeClient.makeFIFO(directory.pipes.path + "/\(id).s2c")
                }
                try RawPipeClient.writeConnectRecord(id: id, to: directory.pipes)
            }
            let p99s = try await callers.finish()
            #expect(p99s.allSatisfy { $0 < Self.p99Bound }, "p99 per client (µs): \(p99s)")
            try await server.expectBackTo(before, "after 200 refused connect records")
            let after = try server.resources()
            #expect(try await server.stop() == "stopped errors=connect_refused:200")
            print("200 never-opened connect records: others' p99 \(p99s) µs; server before \(before), after \(after)")
        }

        /// Clients killed before they sent their connect record (found by scripts/soak.sh): one
        /// between its two `mkfifo` calls (only `.s2c`), one after both. The server never hears
        /// of them; it removes their FIFOs once they are older than `abandonedFIFOAge`, and
        /// leaves alone a pair that is younger (a client still connecting) and connected clients.
        @Test func fifosOfClientsKilledBeforeConnectingAreRemoved() async throws {
            let directory = try TemporaryDirectory()
            defer { directory.remove() }
            let process = try TestPeer.start("serve", in: directory, ["--abandoned-fifo-age-ms", "600"])
            defer { process.stop() }
            _ = try await process.line(startingWith: "ready")
            let connected = try await onThread { try PipeConnector.connect(to: directory.pipes) }
            defer { connected.close() }
            let pipes = directory.pipes.path
            try RawPipeClient.makeFIFO(pipes + "/killed-early.s2c")
            try RawPipeClient.makeFIFO(pipes + "/killed-late.s2c")
            try RawPipeClient.makeFIFO(pipes + "/killed-late.c2s")
            try await Task.sleep(for: .milliseconds(300))
            let young = try listDirectory(pipes)
            #expect(young.count == 5, "removed before their time: \(young)")
            try await eventually("the abandoned FIFOs to be removed", timeout: .seconds(5)) {
                try listDirectory(pipes) == ["connect", "server.lock"]
            }
            #expect(try await connected.unary(Pipebus_Testing_V1_Echo.Method.Echo.descriptor, request: [7], responseType: [UInt8].self) == [7])
            process.signal(SIGTERM)
            #expect(try await process.exitStatus(within: .seconds(15)) == .code(0))
        }

        /// The whole FIFO directory deleted under a running server: within its check interval
        /// (1 s) the directory, the connect FIFO and the lock are back, the connection that was
        /// open keeps working, new clients connect, a second server is still refused, and the
        /// event is counted (`connect_fifo_recreated`), so it is never a silent black hole.
        @Test func fifoDirectoryDeletedWhileServing() async throws {
            let directory = try TemporaryDirectory()
            defer { directory.remove() }
            let server = try await ServerPeer.start(in: directory)
            defer { server.process.stop() }
            let existing = try await onThread { try PipeConnector.connect(to: directory.pipes) }
            defer { existing.close() }
            #expect(try await existing.unary(Pipebus_Testing_V1_Echo.Method.Echo.descriptor, request: [1], responseType: [UInt8].self) == [1])

            removeTree(directory.pipes.path)
            #expect(ProcessProbe.kind(directory.pipes.path) == nil)
            try await eventually("the connect FIFO and the lock to be re-created", timeout: .seconds(5)) {
                ProcessProbe.kind(directory.pipes.connectFIFO) == S_IFIFO
                    && ProcessProbe.kind(directory.pipes.lockFile) == S_IFREG
            }
            #expect(try fileStatus(directory.pipes.path).st_mode & 0o777 == 0o700)
            #expect(try await existing.unary(Pipebus_Testing_V1_Echo.Method.Echo.descriptor, request: [2], responseType: [UInt8].self) == [2])
            let newcomer = try await onThread { try PipeConnector.connect(to: directory.pipes) }
            defer { newcomer.close() }
            #expect(try await newcomer.unary(Pipebus_Testing_V1_Echo.Method.Echo.descriptor, request: [3], responseType: [UInt8].self) == [3])

            // The new lock is held: a second server on the directory is refused.
            let second = try TestPeer.start("serve", in: directory)
            defer { second.stop() }
            #expect(try await second.exitStatus(within: .seconds(10)) == .code(3))
            #expect(second.stdoutLines.last?.hasPrefix("error FAILED_PRECONDITION") == true, "\(second.stdoutLines)")
            #expect(try await server.stop() == "stopped errors=connect_fifo_recreated:1")
        }
    }
}

/// A `pipebus-test-peer serve` process and what can be seen of it from outside.
private struct ServerPeer {
    let process: ChildProcess
    let directory: TemporaryDirectory

    /// What a fault must not leave behind: the server's open descriptors and the FIFO directory.
    struct Resources: Equatable, CustomStringConvertible {
        var descriptors: Int
        var names: [String]
        var residentBytes: Int

        var description: String { "\(descriptors) fds, FIFO directory \(names), RSS \(residentBytes) B" }
    }

    static func start(in directory: TemporaryDirectory) async throws -> ServerPeer {
        let process = try TestPeer.start("serve", in: directory)
        _ = try await process.line(startingWith: "ready")
        return ServerPeer(process: process, directory: directory)
    }

    func resources() throws -> Resources {
        Resources(
            descriptors: try listDirectory("/proc/\(process.pid)/fd").count,
            names: try listDirectory(directory.pipes.path),
            residentBytes: ProcessProbe.residentBytes(of: process.pid) ?? 0
        )
    }

    /// Waits until the descriptors and the directory are as they were (RSS may differ).
    func expectBackTo(_ before: Resources, _ when: String) async throws {
        var last = before
        do {
            try await eventually("fds and FIFOs \(when) to be as before (\(before))", timeout: .seconds(10)) {
                last = try resources()
                return last.descriptors == before.descriptors && last.names == before.names
            }
        } catch {
            Issue.record("leaked \(when): before \(before), now \(last)")
            throw error
        }
        #expect(before.names == ["connect", "server.lock"])
    }

    /// SIGTERM; the server's last line, which lists its connection errors by reason.
    func stop() async throws -> String? {
        process.signal(SIGTERM)
        #expect(try await process.exitStatus(within: .seconds(15)) == .code(0))
        return process.stdoutLines.last
    }
}

/// Client processes (`pipebus-test-peer call`) making calls at a steady pace.
private struct Callers {
    let processes: [ChildProcess]

    static func start(_ count: Int, in directory: TemporaryDirectory, calls: Int, intervalMilliseconds: Int) async throws -> Callers {
        let processes = try (0..<count).map { _ in
            try TestPeer.start("call", in: directory, ["--calls", "\(calls)", "--interval-ms", "\(intervalMilliseconds)"])
        }
        for process in processes { _ = try await process.line(startingWith: "connected") }
        return Callers(processes: processes)
    }

    /// Waits for every caller to finish cleanly; their p99 latencies in microseconds.
    func finish() async throws -> [Int64] {
        var p99s: [Int64] = []
        for process in processes {
            let exit = try await process.exitStatus(within: .seconds(40))
            #expect(exit == .code(0), "\(process.stdoutLines.suffix(3)) \(process.stderrTail(500))")
            let latency = try #require(process.stdoutLines.first { $0.hasPrefix("latency ") }, "\(process.stdoutLines.suffix(3))")
            let field = try #require(latency.split(separator: " ").first { $0.hasPrefix("p99_us=") })
            p99s.append(try #require(Int64(field.dropFirst("p99_us=".count))))
        }
        return p99s
    }

    func stop() {
        for process in processes { process.stop() }
    }
}

/// Small readings of the system, shared by the fault tests.
enum ProcessProbe {
    /// The file type at `path` (`S_IFIFO`, `S_IFREG`, …) by `lstat`, nil when nothing is there.
    static func kind(_ path: String) -> mode_t? {
        var info = stat()
        guard lstat(path, &info) == 0 else { return nil }
        return info.st_mode & S_IFMT
    }

    /// `VmRSS` of a process, in bytes.
    static func residentBytes(of pid: pid_t) -> Int? {
        guard let file = fopen("/proc/\(pid)/status", "r") else { return nil }
        defer { fclose(file) }
        var line = [CChar](repeating: 0, count: 256)
        while fgets(&line, Int32(line.count), file) != nil {
            let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            guard text.hasPrefix("VmRSS:") else { continue }
            let fields = text.split { $0 == " " || $0 == "\t" || $0 == "\n" }
            return fields.count >= 2 ? Int(fields[1]).map { $0 * 1024 } : nil
        }
        return nil
    }
}
