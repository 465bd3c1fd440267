// pipebus-test-peer: the other process in the named-pipe transport tests (PipeBusPipesTests), and
// the Swift gRPC client on another host in the several-hosts tests (PipeBusCLITests).
//
//   serve  --dir D [--umask OOO] [--handshake-timeout-ms N] [--abandoned-fifo-age-ms N]
//       Serves EchoService and HealthService ("" SERVING) in D; prints `ready pid=<pid>` once
//       listening. On SIGTERM or SIGINT shuts down gracefully, prints `stopped errors=<reasons>`
//       and exits 0. If the server cannot start, prints `error <CODE> <message>` and exits 3.
//   call   --dir D --calls N --payload-size S [--concurrency K] [--umask OOO]
//       Connects, makes N unary Echo calls (K at a time on the one connection), each with a
//       payload that names this process and the call, and checks every reply is its own request.
//       With --interval-ms M each task waits M ms between calls (a steady load over time).
//       Prints `connected pid=<pid>`, then `latency p50_us=<a> p99_us=<b> max_us=<c>` and
//       `ok pid=<pid> calls=<n> mismatches=<m> failures=<f>`;
//       exits 1 on any mismatch or failed call, 3 if it cannot connect (`error <CODE> <message>`).
//   stream --dir D [--payload-size S]
//       Makes an endless server-streaming Repeat call; prints `streaming` after the first
//       response and `received <n>` every 1000; runs until killed.
//   sidecar-client --target grpc://HOST:PORT --worker W [--timeout-ms N] [--id ID]
//       A SidecarClient over gRPC (SidecarClientCommand.swift): health within N ms; with --id,
//       the status and a task until completed. Prints `health <STATUS> elapsed_ms=<n>`, or
//       `error <CODE> elapsed_ms=<n> <message>` and exits 1.
//
// Output goes through write(2) at once (stdout is a pipe: no stdio buffering to lose on a kill).

import PipeBusCore
import PipeBusPipes
import Synchronization
import PipeBusHealth
import PipeBusEcho

#if canImport(Glibc)
import Glibc
#endif

func say(_ line: String) {
    let bytes = Array((line + "\n").utf8)
    var offset = 0
    while offset < bytes.count {
        let written = bytes[offset...].withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
        if written <= 0 { return }
        offset += written
    }
}

func fail(_ code: Int32, _ line: String) -> Never {
    say(line)
    exit(code)
}

struct Options {
    var values: [String: String] = [:]

    init(_ arguments: ArraySlice<String>) {
        var iterator = arguments.makeIterator()
        while let flag = iterator.next() {
            guard flag.hasPrefix("--") else { fail(2, "usage: unexpected argument \(flag)") }
            guard let value = iterator.next() else { fail(2, "usage: \(flag) needs a value") }
            values[String(flag.dropFirst(2))] = value
        }
    }

    func string(_ name: String) -> String {
        guard let value = values[name] else { fail(2, "usage: --\(name) is required") }
        return value
    }

    func int(_ name: String, default defaultValue: Int? = nil) -> Int {
        guard let text = values[name] else {
            guard let defaultValue else { fail(2, "usage: --\(name) is required") }
            return defaultValue
        }
        guard let value = Int(text), value >= 0 else { fail(2, "usage: --\(name) must be a number, got \(text)") }
        return value
    }

    /// Applies `--umask OOO` (octal) to this process, if given.
    func applyUmask() {
        guard let text = values["umask"] else { return }
        guard let mask = UInt32(text, radix: 8) else { fail(2, "usage: --umask must be octal, got \(text)") }
        umask(mode_t(mask))
    }
}

// MARK: serve

/// The write end of a self-pipe the signal handler pokes; the main thread waits on the read end.
nonisolated(unsafe) var signalWriteFD: Int32 = -1

func serve(_ options: Options) -> Never {
    options.applyUmask()
    var router = Router()
    router.register(EchoService())
    let health = HealthService()
    health.setStatus(.serving)
    router.register(health)
    var configuration = PipeServer.Configuration.defaults
    if options.values["handshake-timeout-ms"] != nil {
        configuration.connection.handshakeTimeout = .milliseconds(options.int("handshake-timeout-ms"))
    }
    if options.values["abandoned-fifo-age-ms"] != nil {
        configuration.abandonedFIFOAge = .milliseconds(options.int("abandoned-fifo-age-ms"))
        configuration.directoryCheckInterval = .milliseconds(max(50, options.int("abandoned-fifo-age-ms") / 4))
    }
    var signalPipe: [Int32] = [-1, -1]
    guard pipe(&signalPipe) == 0 else { fail(3, "error INTERNAL pipe failed: errno \(errno)") }
    signalWriteFD = signalPipe[1]
    signal(SIGTERM) { _ in _ = write(signalWriteFD, "x", 1) }
    signal(SIGINT) { _ in _ = write(signalWriteFD, "x", 1) }
    let server: PipeServer
    do {
        server = try PipeServer(
            directory: PipeDirectory(path: options.string("dir")),
            router: router,
            configuration: configuration
        )
        try server.start()
    } catch let error as RPCError {
        fail(3, "error \(error.code) \(error.message)")
    } catch {
        fail(3, "error UNKNOWN \(error)")
    }
    say("ready pid=\(getpid())")
    var byte: UInt8 = 0
    while read(signalPipe[0], &byte, 1) < 0 && errno == EINTR {}
    server.shutdown(graceful: true)
    let errors = server.metrics.snapshot().connectionErrors.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }
    fail(0, "stopped errors=\(errors.joined(separator: ","))")
}

// MARK: call

/// The payload of call `index`: names the process and the call, then filler derived from both,
/// so that a reply delivered to the wrong caller (or the wrong process) cannot match.
func payload(index: Int, size: Int) -> [UInt8] {
    var bytes = Array("pid=\(getpid()) call=\(index);".utf8)
    var state = UInt64(UInt32(bitPattern: getpid())) << 32 | UInt64(index)
    while bytes.count < size {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        bytes.append(UInt8(truncatingIfNeeded: state >> 56))
    }
    return size >= bytes.count ? bytes : Array(bytes.prefix(size))
}

func connect(_ options: Options) -> ClientConnection {
    do {
        return try PipeConnector.connect(to: PipeDirectory(path: options.string("dir")))
    } catch let error as RPCError {
        fail(3, "error \(error.code) \(error.message)")
    } catch {
        fail(3, "error UNKNOWN \(error)")
    }
}

/// Shared by the calling tasks of `call`.
final class Tally: Sendable {
    let next = Atomic<Int>(0)
    let mismatches = Atomic<Int>(0)
    let failures = Atomic<Int>(0)
    let latencies = Mutex<[Duration]>([])
}

func call(_ options: Options) async -> Never {
    options.applyUmask()
    let calls = options.int("calls")
    let size = options.int("payload-size", default: 64)
    let concurrency = max(1, options.int("concurrency", default: 1))
    let interval = options.int("interval-ms", default: 0)
    let tally = Tally()
    await makeCalls(options, calls: calls, size: size, concurrency: concurrency, interval: interval, tally: tally)
    let sorted = tally.latencies.withLock { $0 }.sorted()
    func micros(_ quantile: Double) -> Int64 {
        guard !sorted.isEmpty else { return 0 }
        let value = sorted[min(sorted.count - 1, Int(Double(sorted.count) * quantile))]
        return value.components.seconds * 1_000_000 + value.components.attoseconds / 1_000_000_000_000
    }
    say("latency p50_us=\(micros(0.50)) p99_us=\(micros(0.99)) max_us=\(micros(1.0))")
    let mismatches = tally.mismatches.load(ordering: .relaxed)
    let failures = tally.failures.load(ordering: .relaxed)
    let bad = mismatches + failures
    fail(
        bad == 0 ? 0 : 1,
        "ok pid=\(getpid()) calls=\(calls) mismatches=\(mismatches) failures=\(failures)"
    )
}

/// The calls of `call`, on a connection that is closed and released before this returns (its
/// reader thread joined: the process exits right after).
func makeCalls(_ options: Options, calls: Int, size: Int, concurrency: Int, interval: Int, tally: Tally) async {
    let client = connect(options)
    say("connected pid=\(getpid())")
    await withTaskGroup(of: Void.self) { group in
        for _ in 0..<concurrency {
            group.addTask {
                while true {
                    let index = tally.next.add(1, ordering: .relaxed).oldValue
                    if index >= calls { return }
                    let request = payload(index: index, size: size)
                    if interval > 0 { try? await Task.sleep(for: .milliseconds(interval)) }
                    let start = ContinuousClock.now
                    defer { tally.latencies.withLock { $0.append(start.duration(to: .now)) } }
                    do {
                        let reply = try await client.unary(
                            Pipebus_Testing_V1_Echo.Method.Echo.descriptor,
                            request: request,
                            responseType: [UInt8].self
                        )
                        if reply != request {
                            tally.mismatches.add(1, ordering: .relaxed)
                            say("mismatch call=\(index) sent=\(request.count)B got=\(reply.count)B")
                        }
                    } catch {
                        tally.failures.add(1, ordering: .relaxed)
                        say("failed call=\(index) \(error)")
                    }
                }
            }
        }
    }
    client.close()
}

// MARK: stream

func stream(_ options: Options) async -> Never {
    let size = options.int("payload-size", default: 1024)
    let client = connect(options)
    var received = 0
    do {
        let request = EchoService.repeatRequest(count: UInt32.max, payload: [UInt8](repeating: 0x5A, count: size))
        try await client.withServerStreaming(Pipebus_Testing_V1_Echo.Method.Repeat.descriptor, request: request, responseType: [UInt8].self) {
            responses in
            for try await _ in responses {
                received += 1
                if received == 1 { say("streaming") }
                if received % 1000 == 0 { say("received \(received)") }
            }
        }
    } catch {
        fail(1, "failed after \(received) responses: \(error)")
    }
    fail(1, "the endless stream ended after \(received) responses")
}

// MARK: main

let arguments = CommandLine.arguments
guard arguments.count >= 2 else { fail(2, "usage: pipebus-test-peer serve|call|stream|sidecar-client ...") }
let options = Options(arguments.dropFirst(2))
switch arguments[1] {
case "serve": serve(options)
case "call": await call(options)
case "stream": await stream(options)
case "sidecar-client": await sidecarClient(options)
default: fail(2, "usage: unknown subcommand \(arguments[1])")
}
