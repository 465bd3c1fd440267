import PipeBusCore
import PipeBusPipes
import Testing
import PipeBusEcho

extension PipeTransportTests {
    /// A client's per-call inbox is bounded: responses beyond it end the call with
    /// RESOURCE_EXHAUSTED, even when the overflow and the server's OK arrive in one read.
    @Suite
    struct ClientInboxTests {
        @Test(arguments: TransportFixture.allCases)
        func responsesBeyondTheInboxEndTheCallWithResourceExhausted(_ fixture: TransportFixture) async throws {
            let server = try fixture.startServer()
            defer { server.stop() }
            var configuration = ClientConnection.Configuration.defaults
            configuration.inboxCapacity = 4
            let client = try await server.connect(configuration: configuration)
            defer { client.close() }
            var received = 0
            do {
                try await client.withServerStreaming(
                    Pipebus_Testing_V1_Echo.Method.Repeat.descriptor,
                    request: EchoService.repeatRequest(count: 200, payload: [1, 2, 3]),
                    responseType: [UInt8].self
                ) { responses in
                    // Nobody reads meanwhile: the 200 responses and the CLOSE wait in the pipe
                    // and arrive together on the first read.
                    try await Task.sleep(for: .milliseconds(100))
                    for try await _ in responses { received += 1 }
                }
                Issue.record("the call ended normally after \(received) responses")
            } catch let error as RPCError {
                #expect(error.code == .resourceExhausted, "\(error)")
            }
            #expect(received <= configuration.inboxCapacity)
            // The connection carries on.
            let reply = try await client.unary(Pipebus_Testing_V1_Echo.Method.Echo.descriptor, request: [7], responseType: [UInt8].self)
            #expect(reply == [7])
        }
    }
}
