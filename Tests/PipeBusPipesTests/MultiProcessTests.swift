import PipeBusCore
import PipeBusPipes
import PipeBusTestSupport
import Synchronization
import Testing
import PipeBusHealth
import PipeBusEcho

#if canImport(Glibc)
import Glibc
#endif

extension PipeTransportTests {
    /// Clients and servers in separate processes (`pipebus-test-peer`) over real FIFOs: what the
    /// orchestrator, the CLI and the sidecars do in production.
    @Suite
    struct MultiProcessTests {
        /// Records, server-side, which call of which process each Echo request was ("pid=P call=N;").
        final class CallLedger: Sendable {
            private let counts = Mutex<[String: Int]>([:])

            func record(_ request: [UInt8]) {
                let key = String(decoding: request.prefix { $0 != UInt8(ascii: ";") }, as: UTF8.self)
                counts.withLock { $0[key, default: 0] += 1 }
            }

            var snapshot: [String: Int] { counts.withLock { $0 } }
        }

        /// Starts `call` and returns once the server has it: its OPEN has been written (the
        /// client's frame counter moved), and a ping sent after it has come back (the server
        /// answers pings in order with what it read).
        static func callInFlight<T: Sendable>(
            on connection: ClientConnection,
            metrics: TransportMetrics,
            _ call: @escaping @Sendable () async throws -> T
        ) async throws -> Task<T, any Error> {
            let framesBefore = metrics.snapshot().framesSent
            let task = Task { try await call() }
            try await eventually("the call's OPEN to be written", timeout: .seconds(5)) {
                metrics.snapshot().framesSent > framesBefore
            }
            _ = try await connection.ping()
            return task
        }

        @Test func eightClientProcessesThousandCallsEach() async throws {
            let ledger = CallLedger()
            let health = HealthService()
            health.setStatus(.serving)
            var router = TestServer.standardRouter(health: health, board: ProbeBoard())
            router.registerInline(Pipebus_Testing_V1_Echo.Method.Echo.descriptor, request: [UInt8].self, response: [UInt8].self) { request, _ in
                ledger.record(request)
                return request
            }
            let server = try TransportFixture.namedPipes.startServer(router: router)
            defer { server.stop() }
            let clients = try (0..<8).map { index in
                try TestPeer.start(
                    "call",
                    in: server.temporaryDirectory,
                    ["--calls", "1000", "--payload-size", "\(64 + index * 100)", "--concurrency", "\(1 + index % 4)"]
                )
            }
            defer { for client in clients { client.stop() } }
            var pids: Set<String> = []
            for client in clients {
                let exit = try await client.exitStatus(within: .seconds(50))
                let summary = client.stdoutLines.last ?? ""
                #expect(
                    exit == .code(0),
                    "client \(client.pid): \(client.stdoutLines.suffix(5)); stderr: \(client.stderrTail(500))"
                )
                #expect(summary == "ok pid=\(client.pid) calls=1000 mismatches=0 failures=0")
                pids.insert("pid=\(client.pid)")
            }
            // Every call reached the server exactly once: nothing lost, nothing duplicated.
            let seen = ledger.snapshot
            #expect(seen.count == 8000)
            #expect(seen.values.allSatisfy { $0 == 1 }, "duplicated: \(seen.filter { $0.value != 1 }.prefix(5))")
            for pid in pids {
                let calls = Set(seen.keys.filter { $0.hasPrefix(pid + " ") })
                #expect(
                    calls == Set((0..<1000).map { "\(pid) call=\($0)" }),
                    "\(pid) has \(calls.count) distinct calls"
                )
            }
            #expect(server.metrics.snapshot().connectionErrors.isEmpty)
        }

        @Test func clientKilledMidStreamLeavesTheServerServingTheOthers() async throws {
            let server = try TransportFixture.namedPipes.startServer()
            defer { server.stop() }
            let streamer = try TestPeer.start("stream", in: server.temporaryDirectory, ["--payload-size", "4096"])
            defer { streamer.stop() }
            _ = try await streamer.line(startingWith: "streaming")
            let others = try (0..<3).map { _ in
                try TestPeer.start("call", in: server.temporaryDirectory, ["--calls", "2000", "--concurrency", "2"])
            }
            defer { for other in others { other.stop() } }
            // Kill the streaming client while the others are connected and calling.
            for other in others { _ = try await other.line(startingWith: "connected") }
            streamer.signal(SIGKILL)
            #expect(try await streamer.exitStatus() == .signal(SIGKILL))
            for other in others {
                #expect(
                    try await other.exitStatus(within: .seconds(30)) == .code(0),
                    "\(other.stdoutLines.suffix(3)) \(other.stderrTail(500))"
                )
                #expect(other.stdoutLines.last == "ok pid=\(other.pid) calls=2000 mismatches=0 failures=0")
            }
            let client = try await server.connect()
            defer { client.close() }
            let health = try await client.unary(
                Pipebus_Health_V1_Health.Method.Check.descriptor,
                request: Pipebus_Health_V1_HealthCheckRequest(),
                responseType: Pipebus_Health_V1_HealthCheckResponse.self
            )
            #expect(health.status == .serving)
            // The killed client's connection is gone, not stuck: only ours is left.
            try await eventually("the killed client's connection to end", timeout: .seconds(5)) {
                server.pipeServer.connectionCount == 1
            }
        }

        @Test func clientThatNeverOpensItsFIFOsDoesNotDelayOthers() async throws {
            let server = try TransportFixture.namedPipes.startServer()
            defer { server.stop() }
            let directory = server.pipeServer.directory
            // Made its FIFOs and sent its record, never opened either: the server's non-blocking open
            // of the reply FIFO fails (ENXIO) and the connection is refused at once.
            for _ in 0..<5 {
                let id = RawPipeClient.newID()
                try RawPipeClient.makeFIFO(directory.path + "/\(id).c2s")
                try RawPipeClient.makeFIFO(directory.path + "/\(id).s2c")
                try RawPipeClient.writeConnectRecord(id: id, to: directory)
            }
            // Each of the others connects (PipeConnector gives up after its connect timeout, so
            // connecting at all means it was not held up longer) and is served, each well within it.
            for index in 0..<5 {
                let start = ContinuousClock.now
                let client = try await server.connect()
                #expect(
                    try await client.unary(Pipebus_Testing_V1_Echo.Method.Echo.descriptor, request: [UInt8(index)], responseType: [UInt8].self) == [
                        UInt8(index)
                    ]
                )
                client.close()
                let elapsed = start.duration(to: .now)
                #expect(
                    elapsed < PipeConnector.Configuration.defaults.connectTimeout,
                    "connecting and calling took \(elapsed)"
                )
            }
            try await eventually("the refusals to be counted", timeout: .seconds(5)) {
                server.metrics.snapshot().connectionErrors["connect_refused", default: 0] >= 5
            }
        }

        @Test func clientThatNeverSendsHelloIsDroppedAfterTheHandshakeTimeout() async throws {
            let handshakeTimeout = ServerConnection.Configuration.defaults.handshakeTimeout
            let server = try TransportFixture.namedPipes.startServer()
            defer { server.stop() }
            // Opens its reply FIFO (so the server accepts it) but never says HELLO.
            let silent = try await RawPipeClient.connect(to: server.pipeServer.directory, sendHello: false)
            let start = ContinuousClock.now
            for index in 0..<5 {
                let client = try await server.connect()
                #expect(
                    try await client.unary(Pipebus_Testing_V1_Echo.Method.Echo.descriptor, request: [UInt8(index)], responseType: [UInt8].self) == [
                        UInt8(index)
                    ]
                )
                client.close()
            }
            #expect(start.duration(to: .now) < handshakeTimeout, "other clients waited on the silent one")
            try await eventually("only the silent connection to be left", timeout: .seconds(1)) {
                server.pipeServer.connectionCount == 1
            }
            let after = try await silent.readUntilEndOfStream(within: handshakeTimeout * 3)
            let waited = start.duration(to: .now)
            #expect(after.isEmpty)
            #expect(waited >= handshakeTimeout * 0.9 && waited < handshakeTimeout * 2, "dropped after \(waited)")
            try await eventually("the handshake timeout to be counted", timeout: .seconds(5)) {
                server.metrics.snapshot().connectionErrors["handshake_timeout", default: 0] == 1
            }
        }

        /// The server dies (SIGKILL) under a connected `PipeClient` with a call in flight: that call
        /// fails with UNAVAILABLE at once (no hang); once a new server runs, the next call reconnects.
        @Test func serverKilledAndRestartedUnderAConnectedClient() async throws {
            let directory = try TemporaryDirectory()
            defer { directory.remove() }
            let first = try TestPeer.start("serve", in: directory)
            defer { first.stop() }
            _ = try await first.line(startingWith: "ready")
            let metrics = TransportMetrics()
            let client = PipeClient(directory: directory.pipes, metrics: metrics)
            defer { client.close() }
            #expect(try await client.unary(Pipebus_Testing_V1_Echo.Method.Echo.descriptor, request: [1], responseType: [UInt8].self) == [1])

            let connection = try client.connection()
            let inFlight = try await Self.callInFlight(on: connection, metrics: metrics) {
                try await connection.unary(
                    Pipebus_Testing_V1_Echo.Method.Sleep.descriptor,
                    request: EchoService.sleepRequest(milliseconds: 30_000),
                    responseType: [UInt8].self
                )
            }
            first.signal(SIGKILL)
            #expect(try await first.exitStatus() == .signal(SIGKILL))
            let error = await rpcError {
                try await withTimeout(.seconds(5), "the call in flight to fail") { try await inFlight.value }
            }
            #expect(error?.code == .unavailable)

            let second = try TestPeer.start("serve", in: directory)
            defer { second.stop() }
            _ = try await second.line(startingWith: "ready")
            #expect(try await client.unary(Pipebus_Testing_V1_Echo.Method.Echo.descriptor, request: [2], responseType: [UInt8].self) == [2])
            second.signal(SIGTERM)
            #expect(try await second.exitStatus() == .code(0))
        }

        /// A graceful restart (SIGTERM): the call in flight finishes, calls while no server runs fail
        /// fast with UNAVAILABLE, and calls succeed again once the new server is up.
        @Test func serverRestartedGracefullyUnderAConnectedClient() async throws {
            let directory = try TemporaryDirectory()
            defer { directory.remove() }
            let first = try TestPeer.start("serve", in: directory)
            defer { first.stop() }
            _ = try await first.line(startingWith: "ready")
            let metrics = TransportMetrics()
            let client = PipeClient(directory: directory.pipes, metrics: metrics)
            defer { client.close() }
            let connection = try client.connection()
            let inFlight = try await Self.callInFlight(on: connection, metrics: metrics) {
                try await connection.unary(
                    Pipebus_Testing_V1_Echo.Method.Sleep.descriptor,
                    request: EchoService.sleepRequest(milliseconds: 300),
                    responseType: [UInt8].self
                )
            }
            first.signal(SIGTERM)
            #expect(
                try await withTimeout(.seconds(5), "the call in flight to finish") { try await inFlight.value } == []
            )
            #expect(try await first.exitStatus() == .code(0))
            #expect(first.stdoutLines.last == "stopped errors=")

            let start = ContinuousClock.now
            let down = await rpcError {
                try await client.unary(Pipebus_Testing_V1_Echo.Method.Echo.descriptor, request: [3], responseType: [UInt8].self)
            }
            #expect(down?.code == .unavailable)
            #expect(start.duration(to: .now) < .seconds(1), "a call with no server running must fail fast")

            let second = try TestPeer.start("serve", in: directory)
            defer { second.stop() }
            _ = try await second.line(startingWith: "ready")
            // The client backs off after the failed reconnect (50 ms, doubling): retry within a bound.
            var reply: [UInt8]?
            let giveUp = ContinuousClock.now + .seconds(3)
            while reply == nil && ContinuousClock.now < giveUp {
                do {
                    reply = try await client.unary(Pipebus_Testing_V1_Echo.Method.Echo.descriptor, request: [4], responseType: [UInt8].self)
                } catch let error as RPCError where error.code == .unavailable {
                    try await Task.sleep(for: .milliseconds(20))
                }
            }
            #expect(reply == [4])
        }
    }
}
