import Foundation
import Logging
import PipeBusCore
import PipeBusEcho
import PipeBusPipes
import PipeBusTestSupport
import ServiceLifecycle
import Testing

/// `PipeServer` as a `Service`: a ServiceGroup's graceful shutdown drains it, cancelling the
/// group stops it at once, and a server that never started stops nothing.
@Suite("PipeServer in a ServiceGroup")
struct PipeServerServiceTests {
    @Test("graceful shutdown: no new connection, the call in flight is served to its end, then the connect FIFO goes")
    func gracefulShutdownDrainsTheCallInFlight() async throws {
        let server = try TransportFixture.namedPipes.startServer()
        defer { server.stop() }
        let pipes = server.pipeServer
        let client = try await server.connect()
        defer { client.close() }
        let group = ServiceGroup(services: [pipes], logger: Logger(label: "test"))
        try await withThrowingTaskGroup(of: Void.self) { running in
            running.addTask { try await group.run() }
            let replies = try await client.withBidirectional(
                Pipebus_Testing_V1_Echo.Method.Chat.descriptor,
                requestType: [UInt8].self,
                responseType: [UInt8].self
            ) { sender, responses in
                var iterator = responses.makeAsyncIterator()
                try sender.send([1])
                let before = try await iterator.next()
                await group.triggerGracefulShutdown()
                // The shutdown has begun: no new connection is taken, and the call in flight goes on.
                var quick = PipeConnector.Configuration.defaults
                quick.connectTimeout = .milliseconds(200)
                let directory = pipes.directory
                try await eventually("the server to stop taking connections") {
                    guard let other = try? await onThread("test-connect", { [quick] in try PipeConnector.connect(to: directory, configuration: quick) }) else {
                        return true
                    }
                    other.close()
                    return false
                }
                try sender.send([2])
                let during = try await iterator.next()
                try sender.finish()
                return [before, during, try await iterator.next()]
            }
            #expect(replies == [[1], [2], nil], "the call ends with OK after the half-close")
            try await running.waitForAll()
        }
        #expect(pipes.connectionCount == 0)
        #expect(!FileManager.default.fileExists(atPath: pipes.directory.connectFIFO), "the connect FIFO outlived the shutdown")
    }

    @Test("cancelled: the call in flight is cancelled, and run() returns")
    func cancellationStopsAtOnce() async throws {
        let server = try TransportFixture.namedPipes.startServer()
        defer { server.stop() }
        let pipes = server.pipeServer
        let client = try await server.connect()
        defer { client.close() }
        let failure = try await withThrowingTaskGroup(of: Void.self) { running -> RPCError? in
            running.addTask { try await pipes.run() }
            let failure = await rpcError {
                try await client.withBidirectional(
                    Pipebus_Testing_V1_Echo.Method.Chat.descriptor,
                    requestType: [UInt8].self,
                    responseType: [UInt8].self
                ) { sender, responses in
                    var iterator = responses.makeAsyncIterator()
                    try sender.send([1])
                    _ = try await iterator.next()
                    running.cancelAll()
                    // Never half-closed: only the server's cancellation ends this call.
                    while try await iterator.next() != nil {}
                }
            }
            try await running.waitForAll()
            return failure
        }
        #expect(failure != nil, "the call in flight was not cut short")
        #expect(pipes.connectionCount == 0)
        #expect(!FileManager.default.fileExists(atPath: pipes.directory.connectFIFO))
    }

    /// A sidecar makes its pipe server before it knows whether it may serve (another sidecar may
    /// hold the instance); shutting that server down must not touch the serving one's FIFO.
    @Test("a server that never started stops nothing: the connect FIFO of the one serving the directory stays")
    func neverStartedServerLeavesTheServingOneAlone() async throws {
        let first = try TransportFixture.namedPipes.startServer()
        defer { first.stop() }
        let directory = first.pipeServer.directory
        let before = try fileStatus(directory.connectFIFO)

        let idle = try PipeServer(directory: directory, router: Router())
        idle.shutdown(graceful: false)
        #expect(throws: RPCError.self, "a shut-down server cannot start") { try idle.start() }

        let after = try fileStatus(directory.connectFIFO)
        #expect(after.st_ino == before.st_ino)
        let client = try await first.connect()
        defer { client.close() }
        #expect(try await client.unary(Pipebus_Testing_V1_Echo.Method.Echo.descriptor, request: [7], responseType: [UInt8].self) == [7])
    }
}
