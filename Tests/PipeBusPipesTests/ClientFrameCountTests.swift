import PipeBusCore
import PipeBusEcho
import PipeBusPipes
import Testing

extension PipeTransportTests {
    /// The client counts every frame it sends, including those that concurrent callers queued
    /// while another caller was writing and that left in that caller's `write`.
    @Suite
    struct ClientFrameCountTests {
        @Test func framesSentUnderConcurrentCallersMatchTheServersCount() async throws {
            let server = try TransportFixture.namedPipes.startServer()
            defer { server.stop() }
            let clientMetrics = TransportMetrics()
            let directory = server.pipeServer.directory
            let client = try await onThread("test-connect") {
                try PipeConnector.connect(to: directory, metrics: clientMetrics)
            }
            defer { client.close() }
            // Large requests keep a write going long enough for other callers to queue behind it.
            let payload = [UInt8](repeating: 7, count: 48 * 1024)
            let callers = 32
            let callsEach = 20
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<callers {
                    group.addTask {
                        for _ in 0..<callsEach {
                            let reply = try await client.unary(
                                Pipebus_Testing_V1_Echo.Method.Echo.descriptor, request: payload, responseType: [UInt8].self)
                            #expect(reply.count == payload.count)
                        }
                    }
                }
                try await group.waitForAll()
            }
            // Every call's reply came back, so the server has read every frame the client sent
            // (the HELLO and one OPEN a call, which carries its request).
            let sent = clientMetrics.snapshot().framesSent
            let received = server.metrics.snapshot().framesReceived
            #expect(sent == received)
            #expect(sent == UInt64(1 + callers * callsEach))
        }
    }
}
