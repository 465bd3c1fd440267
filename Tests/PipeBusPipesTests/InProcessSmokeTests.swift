import Testing
import PipeBusCore

@Test func inProcessUnaryEcho() async throws {
    let (clientIO, serverIO) = InProcessTransport.makeConnection()
    var router = Router()
    router.registerInline(MethodDescriptor(service: "t", method: "Echo"), request: [UInt8].self, response: [UInt8].self) { request, _ in request }
    let server = ServerConnection(io: serverIO, router: router)
    let thread = OSThread(name: "server") { _ = server.run() }
    var decoder = FrameDecoder()
    let hello = try ClientConnection.readServerHello(from: clientIO, decoder: &decoder, timeout: .seconds(2))
    let client = try ClientConnection(io: clientIO, serverHello: hello, decoder: decoder)
    let reply = try await client.unary(MethodDescriptor(service: "t", method: "Echo"), request: [1, 2, 3] as [UInt8], responseType: [UInt8].self)
    #expect(reply == [1, 2, 3])
    client.close()
    thread.join()
}
