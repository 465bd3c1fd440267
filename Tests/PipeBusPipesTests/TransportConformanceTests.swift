import PipeBusCore
import PipeBusPipes
import PipeBusTestSupport
import Testing
import PipeBusHealth
import PipeBusEcho

extension PipeTransportTests {
    /// One test body per behaviour, run against both transports: the in-process transport (the RPC
    /// engine alone) and a `PipeServer` over real FIFOs. A difference between the two is a transport
    /// bug; a failure in both is an engine bug.
    @Suite
    struct TransportConformanceTests {
        static func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

        // MARK: Call kinds

        @Test(arguments: TransportFixture.allCases)
        func unaryInlineAndAsync(_ fixture: TransportFixture) async throws {
            let server = try fixture.startServer()
            defer { server.stop() }
            let client = try await server.connect()
            defer { client.close() }
            for method in [Pipebus_Testing_V1_Echo.Method.Echo.descriptor, Pipebus_Testing_V1_Echo.Method.EchoAsync.descriptor] {
                for index in 0..<20 {
                    let request = Self.bytes("\(method) #\(index)")
                    let reply = try await client.unary(method, request: request, responseType: [UInt8].self)
                    #expect(reply == request, "\(method) call \(index)")
                }
            }
        }

        @Test(arguments: TransportFixture.allCases)
        func serverStreaming(_ fixture: TransportFixture) async throws {
            let server = try fixture.startServer()
            defer { server.stop() }
            let client = try await server.connect()
            defer { client.close() }
            let payload = Self.bytes("tick")
            let received = try await client.withServerStreaming(
                Pipebus_Testing_V1_Echo.Method.Repeat.descriptor,
                request: EchoService.repeatRequest(count: 500, payload: payload),
                responseType: [UInt8].self
            ) { responses in
                var all: [[UInt8]] = []
                for try await response in responses { all.append(response) }
                return all
            }
            #expect(received.count == 500)
            #expect(received.allSatisfy { $0 == payload })
            // Zero responses is a stream too: it ends at once with OK.
            let none = try await client.withServerStreaming(
                Pipebus_Testing_V1_Echo.Method.Repeat.descriptor,
                request: EchoService.repeatRequest(count: 0, payload: payload),
                responseType: [UInt8].self
            ) { responses in
                var count = 0
                for try await _ in responses { count += 1 }
                return count
            }
            #expect(none == 0)
        }

        @Test(arguments: TransportFixture.allCases)
        func clientStreaming(_ fixture: TransportFixture) async throws {
            let server = try fixture.startServer()
            defer { server.stop() }
            let client = try await server.connect()
            defer { client.close() }
            let chunks = (0..<200).map { Self.bytes("chunk-\($0);") }
            let collected = try await client.withClientStreaming(
                Pipebus_Testing_V1_Echo.Method.Collect.descriptor,
                requestType: [UInt8].self,
                responseType: [UInt8].self
            ) { sender in
                for chunk in chunks { try sender.send(chunk) }
            }
            #expect(collected == chunks.flatMap { $0 })
            let empty = try await client.withClientStreaming(
                Pipebus_Testing_V1_Echo.Method.Collect.descriptor,
                requestType: [UInt8].self,
                responseType: [UInt8].self
            ) { _ in }
            #expect(empty == [])
        }

        @Test(arguments: TransportFixture.allCases)
        func bidirectional(_ fixture: TransportFixture) async throws {
            let server = try fixture.startServer()
            defer { server.stop() }
            let client = try await server.connect()
            defer { client.close() }
            let replies = try await client.withBidirectional(
                Pipebus_Testing_V1_Echo.Method.Chat.descriptor,
                requestType: [UInt8].self,
                responseType: [UInt8].self
            ) { sender, responses in
                var iterator = responses.makeAsyncIterator()
                var replies: [[UInt8]] = []
                // Strict ping-pong: each reply must come back before the next request leaves.
                for index in 0..<50 {
                    try sender.send(Self.bytes("say \(index)"))
                    guard let reply = try await iterator.next() else { break }
                    replies.append(reply)
                }
                try sender.finish()
                #expect(try await iterator.next() == nil, "the call ends with OK after the half-close")
                return replies
            }
            #expect(replies == (0..<50).map { Self.bytes("say \($0)") })
        }

        @Test(arguments: TransportFixture.allCases)
        func concurrentCallsEachGetTheirOwnReply(_ fixture: TransportFixture) async throws {
            let server = try fixture.startServer()
            defer { server.stop() }
            let client = try await server.connect()
            defer { client.close() }
            let mismatches = try await withThrowingTaskGroup(of: Int.self) { group in
                for task in 0..<16 {
                    group.addTask {
                        var mismatches = 0
                        for index in 0..<150 {
                            let request =
                                Self.bytes("task \(task) call \(index)")
                                + [UInt8](repeating: UInt8(task), count: index * 10)
                            let method = index % 3 == 0 ? Pipebus_Testing_V1_Echo.Method.EchoAsync.descriptor : Pipebus_Testing_V1_Echo.Method.Echo.descriptor
                            let reply = try await client.unary(method, request: request, responseType: [UInt8].self)
                            if reply != request { mismatches += 1 }
                        }
                        return mismatches
                    }
                }
                return try await group.reduce(0, +)
            }
            #expect(mismatches == 0)
        }

        // MARK: Metadata and status

        @Test(arguments: TransportFixture.allCases, [ProbeService.metadata, ProbeService.metadataAsync])
        func metadataRoundTrip(_ fixture: TransportFixture, method: MethodDescriptor) async throws {
            let server = try fixture.startServer()
            defer { server.stop() }
            let client = try await server.connect()
            defer { client.close() }
            var metadata = Metadata()
            metadata.add(MetadataKey.traceparent, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
            metadata.add(MetadataKey.tracestate, "congo=t61rcWkgMzE")
            metadata.add("Correlation-ID", "req-7f3a")  // keys are lower-cased
            metadata.add("trace-bin", bytes: (0...255).map { UInt8($0) })
            metadata.add("x-repeated", "first")
            metadata.add("x-repeated", "second")
            metadata.add("x-empty", "")
            metadata.add("x-text", "café ☕ 締め切り")
            let reply = try await client.unary(
                method,
                request: [UInt8](),
                metadata: metadata,
                responseType: [UInt8].self
            )
            let seen = ProbeService.decode(reply)
            #expect(seen == metadata.entries.map { ProbeService.Entry(key: $0.key, value: $0.value) })
            #expect(seen.contains(ProbeService.Entry(key: "correlation-id", value: Self.bytes("req-7f3a"))))
        }

        @Test(arguments: TransportFixture.allCases, [ProbeService.fail, ProbeService.failAsync])
        func statusMessagesAndCodesComeBackIntact(_ fixture: TransportFixture, method: MethodDescriptor) async throws {
            let server = try fixture.startServer()
            defer { server.stop() }
            let client = try await server.connect()
            defer { client.close() }
            let text = "délai dépassé — 締め切り"
            let error = await rpcError {
                try await client.unary(
                    method,
                    request: ProbeService.failRequest(.deadlineExceeded, text),
                    responseType: [UInt8].self
                )
            }
            #expect(error?.code == .deadlineExceeded)
            #expect(error?.message == text)
            for code in StatusCode.allCases where code != .ok {
                let message = "code \(code) ✓"
                let error = await rpcError {
                    try await client.unary(
                        method,
                        request: ProbeService.failRequest(code, message),
                        responseType: [UInt8].self
                    )
                }
                #expect(error?.code == code)
                #expect(error?.message == message)
            }
        }

        @Test(arguments: TransportFixture.allCases)
        func unknownMethodIsUnimplemented(_ fixture: TransportFixture) async throws {
            let server = try fixture.startServer()
            defer { server.stop() }
            let client = try await server.connect()
            defer { client.close() }
            for method in [
                MethodDescriptor(service: Pipebus_Testing_V1_Echo.serviceName, method: "NoSuchMethod"),
                MethodDescriptor(service: "no.such.Service", method: "Echo"),
            ] {
                let error = await rpcError {
                    try await client.unary(method, request: [UInt8](), responseType: [UInt8].self)
                }
                #expect(error?.code == .unimplemented)
            }
            #expect(try await client.unary(Pipebus_Testing_V1_Echo.Method.Echo.descriptor, request: [9], responseType: [UInt8].self) == [9])
        }

        // MARK: Deadlines and cancellation

        @Test(arguments: TransportFixture.allCases)
        func deadlineExceededQuickly(_ fixture: TransportFixture) async throws {
            let server = try fixture.startServer()
            defer { server.stop() }
            let client = try await server.connect()
            defer { client.close() }
            let start = ContinuousClock.now
            let error = await rpcError {
                try await client.unary(
                    Pipebus_Testing_V1_Echo.Method.Sleep.descriptor,
                    request: EchoService.sleepRequest(milliseconds: 1000),
                    timeout: .milliseconds(1),
                    responseType: [UInt8].self
                )
            }
            let elapsed = start.duration(to: .now)
            #expect(error?.code == .deadlineExceeded)
            #expect(elapsed < .milliseconds(500), "a 1 ms deadline took \(elapsed)")
            #expect(try await client.unary(Pipebus_Testing_V1_Echo.Method.Echo.descriptor, request: [1], responseType: [UInt8].self) == [1])
        }

        /// PROTOCOL.md §4: "When it passes, the server cancels the handler".
        @Test(arguments: TransportFixture.allCases)
        func serverCancelsTheHandlerAtTheDeadline(_ fixture: TransportFixture) async throws {
            let server = try fixture.startServer()
            defer { server.stop() }
            let client = try await server.connect()
            defer { client.close() }
            let error = await rpcError {
                try await client.unary(
                    ProbeService.awaitCancel,
                    request: Self.bytes("deadline"),
                    timeout: .milliseconds(50),
                    responseType: [UInt8].self
                )
            }
            #expect(error?.code == .deadlineExceeded)
            try await server.board.probe("deadline").cancelled.wait(
                .seconds(3),
                for: "the handler to be cancelled at its deadline"
            )
        }

        @Test(arguments: TransportFixture.allCases)
        func cancelAfterBegin(_ fixture: TransportFixture) async throws {
            let server = try fixture.startServer()
            defer { server.stop() }
            let client = try await server.connect()
            defer { client.close() }
            let probe = server.board.probe("begin")
            let call = Task {
                try await client.unary(
                    ProbeService.awaitCancel,
                    request: Self.bytes("begin"),
                    responseType: [UInt8].self
                )
            }
            try await probe.arrived.wait(.seconds(5), for: "the call to reach its handler")
            let start = ContinuousClock.now
            call.cancel()
            let error = await rpcError {
                try await withTimeout(.seconds(5), "the cancelled call to end") { try await call.value }
            }
            #expect(error?.code == .cancelled)
            #expect(start.duration(to: .now) < .seconds(1))
            // PROTOCOL.md §4: "A server receiving [CANCEL] stops the handler".
            try await probe.cancelled.wait(.seconds(3), for: "the server to cancel the handler")
            #expect(try await client.unary(Pipebus_Testing_V1_Echo.Method.Echo.descriptor, request: [2], responseType: [UInt8].self) == [2])
        }

        @Test(arguments: TransportFixture.allCases)
        func cancelAfterFirstResponse(_ fixture: TransportFixture) async throws {
            let server = try fixture.startServer()
            defer { server.stop() }
            let client = try await server.connect()
            defer { client.close() }
            let probe = server.board.probe("first")
            let firstResponse = TestEvent<[UInt8]>()
            let call = Task {
                try await client.withServerStreaming(
                    ProbeService.streamThenAwaitCancel,
                    request: Self.bytes("first"),
                    responseType: [UInt8].self
                ) { responses in
                    var count = 0
                    for try await response in responses {
                        count += 1
                        firstResponse.fulfill(response)
                    }
                    return count
                }
            }
            #expect(try await firstResponse.wait(.seconds(5), for: "the first response") == Self.bytes("first"))
            call.cancel()
            let error = await rpcError {
                try await withTimeout(.seconds(5), "the cancelled stream to end") { try await call.value }
            }
            #expect(error?.code == .cancelled)
            try await probe.cancelled.wait(.seconds(3), for: "the server to cancel the streaming handler")
            #expect(try await client.unary(Pipebus_Testing_V1_Echo.Method.Echo.descriptor, request: [3], responseType: [UInt8].self) == [3])
        }

        /// Leaving a server stream early (the body returns) cancels it; the connection carries on,
        /// even though the server was sending as fast as it could (an endless Repeat).
        @Test(arguments: TransportFixture.allCases)
        func breakingOutOfAnEndlessStreamKeepsTheConnection(_ fixture: TransportFixture) async throws {
            let server = try fixture.startServer()
            defer { server.stop() }
            let client = try await server.connect()
            defer { client.close() }
            let payload = [UInt8](repeating: 0x42, count: 1024)
            let first = try await client.withServerStreaming(
                Pipebus_Testing_V1_Echo.Method.Repeat.descriptor,
                request: EchoService.repeatRequest(count: .max, payload: payload),
                responseType: [UInt8].self
            ) { responses in
                for try await response in responses { return response }
                return []
            }
            #expect(first == payload)
            let reply = try await withTimeout(.seconds(5), "an echo call after leaving an endless stream") {
                try await client.unary(Pipebus_Testing_V1_Echo.Method.Echo.descriptor, request: [4], responseType: [UInt8].self)
            }
            #expect(reply == [4])
            _ = try await withTimeout(.seconds(5), "a ping after leaving an endless stream") { try await client.ping() }
        }

        /// A client that leaves a fast stream and then makes no call for a while is not a slow
        /// consumer: it cancelled the stream, and owes the server no reading. The server, blocked
        /// writing into the full pipe, cannot see the CANCEL until the pipe drains; so the client
        /// reads (and drops) what is still coming after a cancel until the connection goes quiet.
        /// Without that, the server's write times out and it drops the connection
        /// (`slow_consumer`): deterministically in memory (64 KiB, one flush fills it), over FIFOs
        /// (256 KiB) when the pipe fills before the CANCEL is read.
        @Test(arguments: TransportFixture.allCases)
        func idleAfterLeavingAFastStreamIsNotASlowConsumer(_ fixture: TransportFixture) async throws {
            var configuration = ServerConnection.Configuration.defaults
            configuration.writeTimeout = .milliseconds(300)
            let server = try fixture.startServer(configuration: configuration)
            defer { server.stop() }
            let client = try await server.connect()
            defer { client.close() }
            let payload = [UInt8](repeating: 0x42, count: 1024)
            _ = try await client.withServerStreaming(
                Pipebus_Testing_V1_Echo.Method.Repeat.descriptor,
                request: EchoService.repeatRequest(count: .max, payload: payload),
                responseType: [UInt8].self
            ) { responses in
                for try await response in responses { return response }
                return []
            }
            // An idle client (no event to wait for: idling is the point), longer than the
            // server's write timeout.
            try await Task.sleep(for: .milliseconds(800))
            let reply = try await withTimeout(.seconds(5), "an echo call after idling") {
                try await client.unary(Pipebus_Testing_V1_Echo.Method.Echo.descriptor, request: [5], responseType: [UInt8].self)
            }
            #expect(reply == [5])
            #expect(server.metrics.snapshot().connectionErrors["slow_consumer"] == nil)
        }

        /// A connection dropped without `close()` after a slow call (its reader thread started)
        /// is released, and the server sees it go — even after its fallback reader thread ran
        /// (which holds the connection only for one turn at a time).
        @Test(arguments: TransportFixture.allCases)
        func droppedClientConnectionIsReleased(_ fixture: TransportFixture) async throws {
            let server = try fixture.startServer()
            defer { server.stop() }
            weak var weakClient: ClientConnection?
            do {
                let client = try await server.connect()
                weakClient = client
                // Longer than the 5 ms leader budget: a reader thread takes over the reading.
                _ = try await client.unary(
                    Pipebus_Testing_V1_Echo.Method.Sleep.descriptor,
                    request: EchoService.sleepRequest(milliseconds: 50),
                    responseType: [UInt8].self
                )
            }
            try await eventually("the dropped connection to be released", timeout: .seconds(2)) { weakClient == nil }
            try await eventually("the server to see the connection end", timeout: .seconds(2)) {
                server.metrics.snapshot().openConnections == 0
            }
        }

        // MARK: Payload sizes and limits

        @Test(arguments: TransportFixture.allCases, [0, 1, 4096, 64 * 1024])
        func payloadSizes(_ fixture: TransportFixture, size: Int) async throws {
            let server = try fixture.startServer()
            defer { server.stop() }
            let client = try await server.connect()
            defer { client.close() }
            let request = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 8) }
            for method in [Pipebus_Testing_V1_Echo.Method.Echo.descriptor, Pipebus_Testing_V1_Echo.Method.EchoAsync.descriptor] {
                let reply = try await client.unary(method, request: request, responseType: [UInt8].self)
                #expect(reply == request, "\(method) with \(size) bytes")
            }
            let streamed = try await client.withServerStreaming(
                Pipebus_Testing_V1_Echo.Method.Repeat.descriptor,
                request: EchoService.repeatRequest(count: 3, payload: request),
                responseType: [UInt8].self
            ) { responses in
                var all: [[UInt8]] = []
                for try await response in responses { all.append(response) }
                return all
            }
            #expect(streamed == [request, request, request])
        }

        /// The largest request whose frame body is exactly the 4 MiB limit goes through; one byte
        /// more is RESOURCE_EXHAUSTED at the client, before anything is sent, and the connection
        /// carries on.
        @Test(arguments: TransportFixture.allCases)
        func largestPayloadAndOneByteMore(_ fixture: TransportFixture) async throws {
            let server = try fixture.startServer(configuration: Self.patientServer)
            defer { server.stop() }
            let client = try await server.connect(configuration: Self.patientClient)
            defer { client.close() }
            let limit = FrameHeader.defaultMaxFrameSize
            #expect(client.serverHello.maxFrameSize == UInt32(limit))
            let largest = Self.largestRequest(for: Pipebus_Testing_V1_Echo.Method.Echo.descriptor, streamID: 1, limit: limit)
            let request = [UInt8](repeating: 0xC3, count: largest)
            let start = ContinuousClock.now
            let reply = try await client.unary(Pipebus_Testing_V1_Echo.Method.Echo.descriptor, request: request, responseType: [UInt8].self)
            print("4 MiB echo over \(fixture): \(start.duration(to: .now))")
            #expect(reply == request)

            let sentBefore = server.metrics.snapshot().bytesReceived
            let error = await rpcError {
                try await client.unary(Pipebus_Testing_V1_Echo.Method.Echo.descriptor, request: request + [0], responseType: [UInt8].self)
            }
            #expect(error?.code == .resourceExhausted)
            #expect(server.metrics.snapshot().bytesReceived == sentBefore, "the oversized request must not be sent")
            #expect(client.isUsable)
            #expect(try await client.unary(Pipebus_Testing_V1_Echo.Method.Echo.descriptor, request: [5], responseType: [UInt8].self) == [5])
        }

        /// A response above the client's advertised max frame size fails that call with
        /// RESOURCE_EXHAUSTED (the server checks before sending), and the connection carries on.
        @Test(arguments: TransportFixture.allCases, [Pipebus_Testing_V1_Echo.Method.Echo.descriptor, Pipebus_Testing_V1_Echo.Method.EchoAsync.descriptor])
        func responseAboveTheClientLimit(_ fixture: TransportFixture, method: MethodDescriptor) async throws {
            let server = try fixture.startServer()
            defer { server.stop() }
            var configuration = ClientConnection.Configuration.defaults
            configuration.maxFrameSize = 256 * 1024
            let client = try await server.connect(configuration: configuration)
            defer { client.close() }
            let error = await rpcError {
                try await client.unary(
                    method,
                    request: [UInt8](repeating: 1, count: 300 * 1024),
                    responseType: [UInt8].self
                )
            }
            #expect(error?.code == .resourceExhausted)
            #expect(try await client.unary(method, request: [6], responseType: [UInt8].self) == [6])
        }

        // MARK: Health

        @Test(arguments: TransportFixture.allCases)
        func healthCheck(_ fixture: TransportFixture) async throws {
            let server = try fixture.startServer()
            defer { server.stop() }
            let client = try await server.connect()
            defer { client.close() }
            let whole = try await client.unary(
                Pipebus_Health_V1_Health.Method.Check.descriptor,
                request: Pipebus_Health_V1_HealthCheckRequest(),
                responseType: Pipebus_Health_V1_HealthCheckResponse.self
            )
            #expect(whole.status == .serving)
            let unknown = await rpcError {
                try await client.unary(
                    Pipebus_Health_V1_Health.Method.Check.descriptor,
                    request: Pipebus_Health_V1_HealthCheckRequest(service: "no.such.Service"),
                    responseType: Pipebus_Health_V1_HealthCheckResponse.self
                )
            }
            #expect(unknown?.code == .notFound)
            server.health.setStatus(.notServing, message: "spool disk full", for: "pipebus.sidecar.v1.Tasks")
            let tasks = try await client.unary(
                Pipebus_Health_V1_Health.Method.Check.descriptor,
                request: Pipebus_Health_V1_HealthCheckRequest(service: "pipebus.sidecar.v1.Tasks"),
                responseType: Pipebus_Health_V1_HealthCheckResponse.self
            )
            #expect(tasks == Pipebus_Health_V1_HealthCheckResponse(status: .notServing, message: "spool disk full"))
        }

        @Test(arguments: TransportFixture.allCases)
        func healthWatchSendsTheCurrentStatusThenChanges(_ fixture: TransportFixture) async throws {
            let server = try fixture.startServer()
            defer { server.stop() }
            let client = try await server.connect()
            defer { client.close() }
            let seen = try await withTimeout(.seconds(10), "health updates") {
                try await client.withServerStreaming(
                    Pipebus_Health_V1_Health.Method.Watch.descriptor,
                    request: Pipebus_Health_V1_HealthCheckRequest(),
                    responseType: Pipebus_Health_V1_HealthCheckResponse.self
                ) { updates in
                    var iterator = updates.makeAsyncIterator()
                    var seen: [Pipebus_Health_V1_HealthCheckResponse] = []
                    if let first = try await iterator.next() { seen.append(first) }
                    server.health.setStatus(.notServing, message: "draining")
                    if let second = try await iterator.next() { seen.append(second) }
                    server.health.setStatus(.serving)
                    if let third = try await iterator.next() { seen.append(third) }
                    return seen
                }
            }
            #expect(seen.map(\.status) == [.serving, .notServing, .serving])
            #expect(seen.dropFirst().first?.message == "draining")

            let unknown = try await withTimeout(.seconds(5), "a watch of an unknown service") {
                try await client.withServerStreaming(
                    Pipebus_Health_V1_Health.Method.Watch.descriptor,
                    request: Pipebus_Health_V1_HealthCheckRequest(service: "later"),
                    responseType: Pipebus_Health_V1_HealthCheckResponse.self
                ) { updates in
                    var iterator = updates.makeAsyncIterator()
                    let first = try await iterator.next()
                    server.health.setStatus(.serving, for: "later")
                    return [first, try await iterator.next()]
                }
            }
            #expect(unknown.map { $0?.status } == [.serviceUnknown, .serving])
        }

        // MARK: GOAWAY, shutdown, ping

        @Test(arguments: TransportFixture.allCases)
        func gracefulShutdownLetsTheCallInFlightFinish(_ fixture: TransportFixture) async throws {
            let server = try fixture.startServer()
            defer { server.stop() }
            let client = try await server.connect()
            defer { client.close() }
            let probe = server.board.probe("drain")
            let inFlight = Task {
                try await client.unary(ProbeService.gate, request: Self.bytes("drain"), responseType: [UInt8].self)
            }
            try await probe.arrived.wait(.seconds(5), for: "the gated call to reach its handler")
            let shutdown = Task { try await server.shutdown(graceful: true) }

            // Calls keep working until the GOAWAY is in; from then on they get UNAVAILABLE.
            var refusal: RPCError?
            let giveUp = ContinuousClock.now + .seconds(5)
            while refusal == nil && ContinuousClock.now < giveUp {
                do {
                    _ = try await client.unary(Pipebus_Testing_V1_Echo.Method.Echo.descriptor, request: [7], responseType: [UInt8].self)
                } catch let error as RPCError {
                    refusal = error
                }
            }
            #expect(refusal?.code == .unavailable)
            #expect(!client.isUsable)
            #expect(!probe.cancelled.isFulfilled)

            probe.released.fulfill()
            let reply = try await withTimeout(.seconds(5), "the call in flight to finish") { try await inFlight.value }
            #expect(reply == Self.bytes("drain"))
            try await withTimeout(.seconds(10), "the graceful shutdown to finish") { try await shutdown.value }
            let after = await rpcError {
                try await client.unary(Pipebus_Testing_V1_Echo.Method.Echo.descriptor, request: [8], responseType: [UInt8].self)
            }
            #expect(after?.code == .unavailable)
            if fixture.usesPipes {
                let refused = await rpcError { try await server.connect() }
                #expect(refused?.code == .unavailable)
            }
        }

        @Test(arguments: TransportFixture.allCases)
        func abruptShutdownFailsTheCallInFlightWithUnavailable(_ fixture: TransportFixture) async throws {
            let server = try fixture.startServer()
            defer { server.stop() }
            let client = try await server.connect()
            defer { client.close() }
            let probe = server.board.probe("abrupt")
            let inFlight = Task {
                try await client.unary(ProbeService.gate, request: Self.bytes("abrupt"), responseType: [UInt8].self)
            }
            try await probe.arrived.wait(.seconds(5), for: "the gated call to reach its handler")
            try await withTimeout(.seconds(10), "the abrupt shutdown") { try await server.shutdown(graceful: false) }
            let error = await rpcError {
                try await withTimeout(.seconds(5), "the call in flight to fail") { try await inFlight.value }
            }
            #expect(error?.code == .unavailable)
        }

        @Test(arguments: TransportFixture.allCases)
        func ping(_ fixture: TransportFixture) async throws {
            let server = try fixture.startServer()
            defer { server.stop() }
            let client = try await server.connect()
            defer { client.close() }
            let roundTrip = try await client.ping()
            #expect(roundTrip > .zero && roundTrip < .seconds(1))
            // Several at once, and while a call is in flight.
            let probe = server.board.probe("ping")
            let held = Task {
                try await client.unary(ProbeService.gate, request: Self.bytes("ping"), responseType: [UInt8].self)
            }
            try await probe.arrived.wait(.seconds(5), for: "the gated call to reach its handler")
            try await withThrowingTaskGroup(of: Duration.self) { group in
                for _ in 0..<20 { group.addTask { try await client.ping() } }
                for try await duration in group { #expect(duration < .seconds(2)) }
            }
            probe.released.fulfill()
            #expect(try await held.value == Self.bytes("ping"))
        }

        // MARK: Helpers

        /// Multi-megabyte messages move slowly in a debug build (per-byte generic code in the copy
        /// paths): give writes more than the default 2 s (server) / 5 s (client) so that a slow test
        /// host is not taken for a slow consumer.
        static var patientServer: ServerConnection.Configuration {
            var configuration = ServerConnection.Configuration.defaults
            configuration.writeTimeout = .seconds(30)
            return configuration
        }

        static var patientClient: ClientConnection.Configuration {
            var configuration = ClientConnection.Configuration.defaults
            configuration.writeTimeout = .seconds(30)
            return configuration
        }

        /// The size of an OPEN envelope carrying a unary request of `payload` bytes.
        static func openFrameBodySize(_ method: MethodDescriptor, streamID: UInt32, payload: Int) -> Int {
            var buffer: [UInt8] = []
            Envelope(
                streamID: streamID,
                kind: .open,
                endStream: true,
                method: method.fullName,
                message: [UInt8](repeating: 0xAB, count: payload)
            )
            .serialize(into: &buffer)
            return buffer.count
        }

        /// The largest unary request payload whose OPEN frame body fits in `limit`. The message
        /// field costs its tag, a varint length and the bytes; the rest of the envelope does not
        /// depend on the payload. (Computed rather than found by serializing 4 MiB envelopes, which
        /// is slow in a debug build.)
        static func largestRequest(for method: MethodDescriptor, streamID: UInt32, limit: Int) -> Int {
            func varintLength(_ value: Int) -> Int {
                var length = 1
                var rest = value >> 7
                while rest > 0 {
                    length += 1
                    rest >>= 7
                }
                return length
            }
            let fixed = openFrameBodySize(method, streamID: streamID, payload: 1) - 1 - varintLength(1)
            for size in [200, 20_000] {
                precondition(
                    openFrameBodySize(method, streamID: streamID, payload: size) == fixed + varintLength(size) + size
                )
            }
            var payload = limit - fixed - varintLength(limit)
            while fixed + varintLength(payload + 1) + payload + 1 <= limit { payload += 1 }
            return payload
        }
    }
}
