import Foundation
import PipeBusCore
import PipeBusTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Measurements, not timed tests: they print figures and assert nothing about speed. Opt in
/// with `PIPEBUS_IT_MEASURE=1`; `PIPEBUS_EXECUTABLE=…/release/pipebus` measures a release build.
@Suite(
    "Sidecar integration: measurements",
    .serialized,
    .enabled(if: ProcessInfo.processInfo.environment["PIPEBUS_IT_MEASURE"] == "1", "set PIPEBUS_IT_MEASURE=1 to measure")
)
struct SidecarMeasurements {
    /// utime + stime of a process, in seconds (/proc/<pid>/stat fields 14 and 15).
    private static func cpuSeconds(_ pid: pid_t) throws -> Double {
        let text = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
        // Fields after the command name, which is in parentheses and may contain spaces.
        let fields = text[text.index(after: text.lastIndex(of: ")")!)...].split(separator: " ")
        // fields[0] is field 3 (state): utime is field 14, stime field 15.
        let ticks = Double(fields[11])! + Double(fields[12])!
        return ticks / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    private static func status(_ pid: pid_t, _ key: String) -> String {
        let text = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        return text.split(separator: "\n").first { $0.hasPrefix(key + ":") }.map { $0.dropFirst(key.count + 1).trimmingCharacters(in: .whitespaces) } ?? "?"
    }

    @Test("idle CPU and RSS of a sidecar supervising `sleep 1000`, over 30 s", arguments: [2.0, 0.5])
    func idle(heartbeatInterval: Double) async throws {
        let root = try Integration.Root.make(worker: "marie")
        defer { root.remove() }
        let sidecar = try await Integration.SidecarProcess(
            root: root,
            heartbeatInterval: heartbeatInterval,
            metrics: true,
            command: ["sleep", "1000"]
        )
        // Let start-up settle, then measure a 30 s window (a measurement, not a wait for a condition).
        try? await Task.sleep(for: .seconds(3))
        let pid = sidecar.pid
        let cpu0 = (try? Self.cpuSeconds(pid)) ?? .nan
        let wall0 = ContinuousClock.now
        try? await Task.sleep(for: .seconds(30))
        let cpu1 = (try? Self.cpuSeconds(pid)) ?? .nan
        let wall = ContinuousClock.now - wall0
        let wallSeconds = Double(wall.components.seconds) + Double(wall.components.attoseconds) / 1e18
        let percent = (cpu1 - cpu0) / wallSeconds * 100
        print(
            "MEASURE idle (\(Integration.executable), heartbeat \(heartbeatInterval) s): CPU \(String(format: "%.3f", cpu1 - cpu0)) s over \(String(format: "%.1f", wallSeconds)) s = \(String(format: "%.3f", percent)) % of one vCPU;",
            "VmRSS \(Self.status(pid, "VmRSS")), VmHWM \(Self.status(pid, "VmHWM")), threads \(Self.status(pid, "Threads"))"
        )
        await sidecar.killEverything()
    }

    @Test("submit-to-durable-ack latency over 1,000 submits through the pipe, span export off and on", arguments: [false, true])
    func submitLatency(export: Bool) async throws {
        let root = try Integration.Root.make(worker: "marie")
        defer { root.remove() }
        let receiver = export ? try await TracingTests.Receiver(root: root) : nil
        let sidecar = try await Integration.SidecarProcess(
            root: root,
            heartbeatInterval: 2,
            environment: receiver.map { TracingTests.exportEnvironment(port: $0.port) }
        )
        let client = try await Integration.Client.connect(root, timeout: .seconds(10))
        defer { client.close() }
        func summary(_ samples: [Duration]) -> String {
            let sorted = samples.sorted()
            func ms(_ q: Double) -> String {
                let d = sorted[min(sorted.count - 1, Int(Double(sorted.count) * q))]
                return String(format: "%.3f", Double(d.components.attoseconds) / 1e15 + Double(d.components.seconds) * 1000)
            }
            return "p50 \(ms(0.50)) ms, p90 \(ms(0.90)) ms, p99 \(ms(0.99)) ms, max \(ms(1.0)) ms (n=\(sorted.count))"
        }
        // Warm-up, then the figures.
        for index in 0..<20 { _ = try await client.submit(#"{"prompt":"warm"}"#, id: "warm-\(index)") }
        var health: [Duration] = []
        for _ in 0..<1000 {
            let start = ContinuousClock.now
            _ = try await client.health()
            health.append(ContinuousClock.now - start)
        }
        var submits: [Duration] = []
        let payload = #"{"prompt":"summarise the incident","model":"claude","priority":3}"#
        for index in 0..<1000 {
            let start = ContinuousClock.now
            _ = try await client.submit(payload, id: "lat-\(index)")
            submits.append(ContinuousClock.now - start)
        }
        let mode = export ? "export on" : "export off"
        print("MEASURE [\(mode)] submit→durable ack (\(Integration.executable)): \(summary(submits))")
        print("MEASURE [\(mode)] Health.Check round trip, same connection: \(summary(health))")
        #expect(root.taskIDs("pending").count == 1020)
        if let receiver {
            try await eventually("the submit spans at the receiver", timeout: .seconds(30)) {
                receiver.spans.filter { $0["name"] as? String == "pipebus.submit" }.count >= 1020
            }
            print("MEASURE [\(mode)] spans received: \(receiver.spans.count)")
            await receiver.stop()
        }
        await sidecar.killEverything()
    }
}
