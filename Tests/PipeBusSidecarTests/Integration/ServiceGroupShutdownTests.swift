import Foundation
import PipeBusCore
import PipeBusEcho
import PipeBusTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `pipebus sidecar` runs its services (/metrics, the pipe server, the sidecar) in one
/// ServiceGroup whose graceful-shutdown signals are SIGTERM and SIGINT: either signal lets the
/// call in flight finish, then removes what the sidecar made, as the hand-made signal watch did.
@Suite("Sidecar integration: the ServiceGroup's graceful shutdown", .serialized)
struct ServiceGroupShutdownTests {
    @Test("SIGTERM or SIGINT: the call in flight goes on to its end, exit 0, no FIFO left, the instance lock free", arguments: [SIGTERM, SIGINT])
    func signalFinishesTheCallInFlightAndLeavesNothing(_ signal: Int32) async throws {
        let root = try Integration.Root.make(worker: "marie")
        defer { root.remove() }
        let sidecar = try await Integration.SidecarProcess(root: root, metrics: true)
        let metricsPort = try await sidecar.metricsPort()
        let client = try Integration.Client.connect(root)
        defer { client.close() }
        let replies: [[UInt8]?]
        do {
            replies = try await client.connection.withBidirectional(
                Pipebus_Testing_V1_Echo.Method.Chat.descriptor,
                requestType: [UInt8].self,
                responseType: [UInt8].self
            ) { sender, responses in
                var iterator = responses.makeAsyncIterator()
                try sender.send(Array("before".utf8))
                // Answered: the sidecar is serving this call when the signal comes.
                let before = try await iterator.next()
                sidecar.process.signal(signal)
                try await eventually("the sidecar to start shutting down; log:\n\(sidecar.logTail())") {
                    !sidecar.logLines(containing: "shutting down: returning leases, draining connections").isEmpty
                }
                // /metrics goes last: while the sidecar drains, /healthz says why it does not serve.
                let healthz = try await LoopbackHTTPClient(port: metricsPort).get("/healthz")
                #expect(healthz.status == 503 && healthz.body.contains("sidecar is shutting down"), "\(healthz)")
                // Draining refuses new calls, not this one: it is served to its end.
                try sender.send(Array("during".utf8))
                let during = try await iterator.next()
                try sender.finish()
                let end = try await iterator.next()
                return [before, during, end]
            }
        } catch {
            await sidecar.killEverything()
            throw error
        }
        #expect(replies == [Array("before".utf8), Array("during".utf8), nil], "the call ends with OK after the half-close")

        let exit = await sidecar.process.wait(timeout: .seconds(30))
        if exit == nil { await sidecar.killEverything() }
        #expect(exit?.code == 0, "\(String(describing: exit)); log:\n\(sidecar.logTail())")
        // The line operators grep for, and the end of the shutdown.
        #expect(!sidecar.logLines(containing: "received signal \(signal); shutting down").isEmpty, "\(sidecar.logTail())")
        #expect(!sidecar.logLines(containing: "stopped").isEmpty, "\(sidecar.logTail())")

        // Nothing of the sidecar's is left: no FIFO (connect FIFO, connection pairs), no holder
        // recorded in the instance lock, which anyone can take now.
        let instance = "\(root.workerDirectory)/instances/\(sidecar.instance)"
        let fifos = Self.entries(under: instance).filter { Integration.lstatKind($0) == S_IFIFO }
        #expect(fifos.isEmpty, "FIFOs left behind: \(fifos)")
        let lockPath = "\(instance)/instance.lock"
        let holder = (try? String(contentsOfFile: lockPath, encoding: .utf8)) ?? ""
        #expect(holder.isEmpty, "the instance lock still names a holder: \(holder)")
        let fd = open(lockPath, O_RDWR | O_CLOEXEC)
        #expect(fd >= 0)
        if fd >= 0 {
            #expect(flock(fd, LOCK_EX | LOCK_NB) == 0, "the instance lock is still held")
            close(fd)
        }
        // And it starts again at once, as the same instance.
        try await sidecar.restart()
        await sidecar.killEverything()
    }

    @Test("a second SIGTERM while draining does not cut the shutdown short")
    func secondSignalWhileDraining() async throws {
        let root = try Integration.Root.make(worker: "marie")
        defer { root.remove() }
        let sidecar = try await Integration.SidecarProcess(root: root)
        let client = try Integration.Client.connect(root)
        defer { client.close() }
        let ended: [UInt8]?
        do {
            ended = try await client.connection.withBidirectional(
                Pipebus_Testing_V1_Echo.Method.Chat.descriptor,
                requestType: [UInt8].self,
                responseType: [UInt8].self
            ) { sender, responses in
                var iterator = responses.makeAsyncIterator()
                try sender.send(Array("before".utf8))
                _ = try await iterator.next()
                sidecar.process.signal(SIGTERM)
                try await eventually("the sidecar to start shutting down; log:\n\(sidecar.logTail())") {
                    !sidecar.logLines(containing: "shutting down: returning leases, draining connections").isEmpty
                }
                sidecar.process.signal(SIGTERM)
                try sender.send(Array("during".utf8))
                let during = try await iterator.next()
                try sender.finish()
                _ = try await iterator.next()
                return during
            }
        } catch {
            await sidecar.killEverything()
            throw error
        }
        #expect(ended == Array("during".utf8))
        let exit = await sidecar.process.wait(timeout: .seconds(30))
        if exit == nil { await sidecar.killEverything() }
        #expect(exit?.code == 0, "\(String(describing: exit)); log:\n\(sidecar.logTail())")
        #expect(!sidecar.logLines(containing: "stopped").isEmpty, "\(sidecar.logTail())")
    }

    static func entries(under directory: String) -> [String] {
        guard let enumerator = FileManager.default.enumerator(atPath: directory) else { return [] }
        return enumerator.compactMap { ($0 as? String).map { "\(directory)/\($0)" } }
    }
}
