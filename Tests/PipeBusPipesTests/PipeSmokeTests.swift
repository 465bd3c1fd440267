import Testing
import PipeBusCore
import PipeBusPipes
import Foundation

@Test func pipeUnaryEchoAndHealth() async throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pb-\(UUID().uuidString)").path
    var router = Router()
    router.registerInline(MethodDescriptor(service: "t", method: "Echo"), request: [UInt8].self, response: [UInt8].self) { request, _ in request }
    let health = HealthService()
    health.setStatus(.serving)
    health.register(in: &router)
    let server = try PipeServer(directory: PipeDirectory(path: dir + "/pipes"), router: router)
    try server.start()
    defer { server.shutdown(graceful: true) }
    let client = try PipeConnector.connect(to: PipeDirectory(path: dir + "/pipes"))
    let reply = try await client.unary(MethodDescriptor(service: "t", method: "Echo"), request: [1, 2, 3] as [UInt8], responseType: [UInt8].self)
    #expect(reply == [1, 2, 3])
    let status = try await client.unary(Health.check, request: Health.CheckRequest(), responseType: Health.CheckResponse.self)
    #expect(status.status == .serving)
    let start = ContinuousClock.now
    for _ in 0..<10000 {
        _ = try await client.unary(MethodDescriptor(service: "t", method: "Echo"), request: [UInt8](repeating: 7, count: 64), responseType: [UInt8].self)
    }
    print("10k echo:", start.duration(to: .now))
    client.close()
}
