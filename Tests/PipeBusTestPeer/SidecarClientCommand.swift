// `sidecar-client`: the Swift client of a sidecar on another host, for the several-hosts tests
// (PipeBusCLITests' MultiHostTests), which run it inside a network namespace: a namespace
// belongs to a process, so the client cannot run inside the test process.

#if GRPC
import PipeBusClient
import PipeBusCore
import PipeBusGRPC
import PipeBusHealth
import PipeBusTasks

#if canImport(Glibc)
import Glibc
#endif

/// `sidecar-client --target grpc://HOST:PORT --worker W [--timeout-ms N] [--id ID]`: a
/// `SidecarClient` over gRPC. Checks health within N ms (default 10000) and prints
/// `health <STATUS> elapsed_ms=<n>`; with --id, then asks the status (`status pending=<n> …`),
/// submits a task with id ID and waits (30 s at most) until it is completed (`completed <ID>`).
/// Exits 0; on a failed call prints `error <CODE> elapsed_ms=<n> <message>` (the gRPC status
/// code's name) and exits 1.
func sidecarClient(_ options: Options) async -> Never {
    let target = options.string("target")
    let timeout = Duration.milliseconds(options.int("timeout-ms", default: 10_000))
    let client: SidecarClient
    do {
        client = SidecarClient(
            worker: options.string("worker"),
            target: target,
            caller: try GRPCCaller(target: GRPCTarget(parsing: target))
        )
    } catch {
        fail(1, "error INVALID_ARGUMENT elapsed_ms=0 cannot make a client of \(target): \(error)")
    }
    let clock = ContinuousClock()
    let start = clock.now
    func elapsedMilliseconds() -> Int64 {
        let elapsed = start.duration(to: clock.now).components
        return elapsed.seconds * 1000 + elapsed.attoseconds / 1_000_000_000_000_000
    }
    do {
        let health = try await client.health(timeout: timeout)
        say("health \(health.status) elapsed_ms=\(elapsedMilliseconds())")
        guard options.values["id"] != nil else {
            client.close()
            exit(0)
        }
        let id = options.string("id")
        let status = try await client.status(timeout: timeout)
        say("status pending=\(status.pending) active=\(status.active) completed=\(status.completed) leases=\(status.leases)")
        _ = try await client.submit(json: Array(#"{"duration_ms": 10}"#.utf8), id: id)
        let deadline = clock.now + .seconds(30)
        while clock.now < deadline {
            if try await client.task(id).state == .completed {
                client.close()
                fail(0, "completed \(id)")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        fail(1, "error DEADLINE_EXCEEDED elapsed_ms=\(elapsedMilliseconds()) task \(id) not completed within 30 s")
    } catch let error as RPCError {
        fail(1, "error \(error.code) elapsed_ms=\(elapsedMilliseconds()) \(error.message)")
    } catch {
        fail(1, "error UNKNOWN elapsed_ms=\(elapsedMilliseconds()) \(error)")
    }
}
#else
/// Without the GRPC trait there is no gRPC client to run.
func sidecarClient(_ options: Options) async -> Never {
    fail(2, "usage: sidecar-client needs the GRPC trait")
}
#endif
