#if GRPC
import Foundation
import PipeBusTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A sidecar's gRPC side does not hold its stop hostage.
@Suite("gRPC sidecar stop", .serialized)
struct GRPCSidecarStopTests {
    @Test("SIGTERM stops a sidecar whose gRPC client holds a stream and answers nothing (a partition): the drain ends at its limit")
    func stopsDespiteAFrozenClient() async throws {
        let directory = try TemporaryDirectory(prefix: "pipebus-grpc-stop")
        defer { directory.remove() }
        let sidecar = try CLI.start([
            "sidecar", "--worker", "frozen", "--root", directory.path, "--metrics-address", "none",
            "--heartbeat-interval", "0.5", "--grpc-listen", "127.0.0.1:0",
        ])
        defer { sidecar.stop() }
        let line = try await sidecar.line("the \"serving gRPC\" log line", in: .stderr, within: SidecarStartup.base) { $0.contains("serving gRPC") }
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        let address = try #require(object["address"] as? String)
        // A watch holds a stream open; stopped with SIGSTOP, its process answers nothing, as a
        // client behind a partition does, and never closes the stream.
        let watch = try CLI.start(["watch", "--worker", "frozen", "--target", "grpc://\(address)"])
        defer { watch.stop() }
        _ = try await watch.line("a heartbeat through the watch", in: .stdout, within: .seconds(30)) { $0.contains("heartbeat") }
        watch.signal(SIGSTOP)
        defer { watch.signal(SIGCONT) }
        sidecar.signal(SIGTERM)
        // Without a drain limit the sidecar waited for the frozen client for good (still running
        // after 142 s); the limit is 5 s. This bounds waiting for a process, not its speed.
        let exit = await sidecar.wait(timeout: .seconds(60))
        #expect(exit != nil, "the sidecar did not stop within 60 s of SIGTERM with a frozen gRPC client:\n\(sidecar.stderr)")
        #expect(exit?.shellStatus == 0, "\(String(describing: exit))\n\(sidecar.stderr)")
        #expect(sidecar.stderr.contains("still in flight after the drain timeout"))
    }
}
#endif
