import Foundation
import PipeBusClient
import PipeBusCore
import PipeBusTasks
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// `pipebus demo`, step by step: three sidecars with demo pipe workers, tasks, the live status
/// board, a health check, the metrics, the runbook's clear-stuck and incident report, and a
/// graceful stop that leaves no process and no FIFO behind.
struct DemoRun: Sendable {
    var root: String
    var duration: Duration
    var workers: [(name: String, batchSize: Int)] = [("marie", 3), ("anga", 4), ("fabien", 2)]

    /// What the run saw, shown live and in the summary.
    final class Progress: Sendable {
        let submitted = Mutex(0)
        let failures = Mutex(0)
        /// The demo workers' process ids, as their sidecars report them.
        let workerPIDs = Mutex<[String: pid_t]>([:])

        func noteWorker(_ status: Pipebus_Tasks_V1_WorkerStatus) {
            if status.workerPid > 0 { workerPIDs.withLock { $0[status.worker] = pid_t(status.workerPid) } }
        }
        let recent = Mutex<[String]>([])

        func note(_ line: String) {
            recent.withLock { recent in
                recent.append(line)
                if recent.count > 8 { recent.removeFirst(recent.count - 8) }
            }
        }
    }

    /// Runs the demo; true when every step went well.
    func run() async throws -> Bool {
        let executable = ChildProcess.currentExecutable
        try FileManager.default.createDirectory(atPath: "\(root)/logs", withIntermediateDirectories: true)
        say("pipebus demo: 3 workers, each with a sidecar and a demo pipe worker, for \(DurationText.format(duration))")
        say("root: \(root)   (sidecar and worker logs: \(root)/logs/)")

        var ports: [String: Int] = [:]
        var sidecars: [String: ChildProcess] = [:]
        let python = await DemoPythonWorker.command(executable: executable, logPath: "\(root)/logs/python-check.log")
        for worker in workers {
            let port = try LocalHTTP.freePort()
            ports[worker.name] = port
            let workerCommand = worker.name == DemoPythonWorker.worker ? python ?? [executable, "worker"] : [executable, "worker"]
            let arguments = [
                executable, "sidecar", "--worker", worker.name, "--root", root, "--mode", "pipe",
                "--metrics-address", "127.0.0.1:\(port)", "--heartbeat-interval", "1", "--",
            ] + workerCommand
            sidecars[worker.name] = try ChildProcess.spawn(arguments, logPath: "\(root)/logs/\(worker.name).log")
        }
        say(
            "▸ started 3 sidecars (pids \(workers.map { "\($0.name) \(sidecars[$0.name]!.pid)" }.joined(separator: ", ")))"
        )
        if let python {
            say("▸ \(DemoPythonWorker.worker)'s worker is the Python one: \(python.joined(separator: " ")) (pipebus for Python)")
        }

        let (started, listening) = (sidecars, ports)
        let progress = Progress()
        let (shown, interrupted) = await interruptible { try await show(sidecars: started, ports: listening, progress: progress) }
        var ok = true
        if interrupted {
            ok = false
            say("\n✗ interrupted; stopping the sidecars")
        } else if case .failure(let error) = shown {
            ok = false
            say("\n✗ \(error)")
        }
        return await stop(sidecars, workerPIDs: progress.workerPIDs.withLock { Array($0.values) }) && ok
    }

    // MARK: The show

    /// Steps up to the incident report.
    private func show(sidecars: [String: ChildProcess], ports: [String: Int], progress: Progress) async throws {
        let deployment = Deployment(root: root)
        Console.error("waiting for each sidecar to serve and its worker to lease …")
        for worker in workers {
            progress.noteWorker(
                try await waitUntilServing(worker.name, sidecar: sidecars[worker.name]!, deployment: deployment)
            )
        }
        say("▸ every sidecar is SERVING and its worker is leasing tasks")
        for worker in workers {
            _ = try await deployment.withSidecar(worker.name) { client in
                try await client.setConfig(Array("{\"batch_size\": \(worker.batchSize)}".utf8))
            }
        }
        say(
            "▸ batch sizes: \(workers.map { "\($0.name) \($0.batchSize)" }.joined(separator: ", "))  (config/<worker>.json)"
        )

        let fleet = deployment.fleet()
        let board = StatusBoard(fleet: fleet)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                do {
                    try await submitTasks(deployment: deployment, progress: progress)
                } catch {
                    if !Task.isCancelled {
                        progress.note("✗ submitting failed: \(error)")
                        progress.failures.withLock { $0 += 1 }
                    }
                }
            }
            group.addTask {
                try await fleet.withEvents { events in
                    for await (worker, event) in events where event.kind == .transition {
                        progress.note(event.line(worker: worker, compact: true))
                    }
                }
            }
            try await liveBoard(board, progress: progress)
            group.cancelAll()
        }
        try Task.checkCancellation()
        if progress.failures.withLock({ $0 }) > 0 {
            throw CLIError("submitting tasks failed (see the latest transitions above)")
        }

        say("\n▸ health check (pipebus health --all)")
        let health = await HealthProbe(deployment: deployment, service: "", timeout: .seconds(5)).check(
            workers.map(\.name)
        )
        for result in health { say("  \(result.line)") }
        if !health.allSatisfy(\.isServing) { throw CLIError("a sidecar is not SERVING") }

        say("\n▸ Prometheus metrics")
        for worker in workers {
            let port = ports[worker.name]!
            say(
                "  \(worker.name): http://127.0.0.1:\(port)/metrics  \(metricsSummary(port: port, worker: worker.name))"
            )
        }

        let threshold = max(Duration.seconds(1), min(.seconds(5), duration - .seconds(1)))
        say(
            "\n▸ runbook: clear stuck tasks (pipebus clear-stuck --worker marie --older-than \(DurationText.format(threshold)))"
        )
        let moved = try await deployment.withSidecar("marie") { marie in try await marie.clearStuck(olderThan: threshold) }
        if moved.isEmpty { say("  no stuck task found") }
        for task in moved { say("  Moved stuck task: \(task.id) (correlation_id \(task.correlationID))") }

        let rows = await board.collect()
        say("\n" + StatusBoard.render(rows))
        for status in rows.compactMap(\.status) { progress.noteWorker(status) }

        var report = IncidentReport(root: root, window: .seconds(3600), threshold: .seconds(30))
        report.collect()
        let path = try report.write()
        say("\n▸ incident report (pipebus incident): \(path)")
        say("  peak latency \(report.peakLatencyText)")
        say("  error rate \(report.errorRateText)")
    }

    /// Polls until the sidecar answers SERVING and its worker holds a lease.
    private func waitUntilServing(
        _ worker: String,
        sidecar: ChildProcess,
        deployment: Deployment
    ) async throws -> Pipebus_Tasks_V1_WorkerStatus {
        // Failures are expected while it starts: a breaker that never opens.
        try await deployment.withSidecar(worker, callTimeout: .seconds(1), breaker: CircuitBreaker(failureThreshold: .max)) { client in
            try await waitUntilServing(worker, sidecar: sidecar, client: client)
        }
    }

    private func waitUntilServing(
        _ worker: String,
        sidecar: ChildProcess,
        client: SidecarClient
    ) async throws -> Pipebus_Tasks_V1_WorkerStatus {
        let deadline = ContinuousClock.now + .seconds(30)
        var last = "no answer yet"
        while ContinuousClock.now < deadline {
            try Task.checkCancellation()
            if let exit = sidecar.poll() {
                throw CLIError("the sidecar of \(worker) exited (\(exit)) before serving:\n\(sidecar.logTail())")
            }
            do {
                let status = try await client.status(timeout: .seconds(1))
                if status.servingStatus == .serving && status.leases > 0 { return status }
                last = "\(status.servingStatus), \(status.leases) lease(s)"
            } catch {
                last = "\(error)"
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw CLIError("the sidecar of \(worker) was not SERVING with a leasing worker within 30 s (\(last))")
    }

    /// Waves of tasks during the first half of the run: varied durations, a few that fail,
    /// and one on marie that never finishes.
    private func submitTasks(deployment: Deployment, progress: Progress) async throws {
        try await deployment.withSidecars(workers.map(\.name)) { clients in
            try await submitTasks(clients: clients, progress: progress)
        }
    }

    private func submitTasks(clients: [String: SidecarClient], progress: Progress) async throws {
        var counters: [String: Int] = [:]
        func submit(_ worker: String, _ object: [String: Any], id: String? = nil) async throws {
            let json = Array(Console.jsonText(object, compact: true).utf8)
            _ = try await clients[worker]!.submit(json: json, id: id)
            progress.submitted.withLock { $0 += 1 }
        }
        try await submit(
            "marie",
            ["kind": "summarise", "prompt": "the report that hangs", "stuck": true],
            id: "marie-stuck"
        )
        let prompts = [
            "summarise the logs", "review the pull request", "draft the release notes", "triage the alert",
            "answer the ticket",
        ]
        let end = ContinuousClock.now + duration / 2
        var wave = 0
        while ContinuousClock.now < end {
            for worker in workers {
                let count = wave == 0 ? worker.batchSize * 2 : Int.random(in: 1...worker.batchSize)
                for _ in 0..<count {
                    let number = counters[worker.name, default: 0] + 1
                    counters[worker.name] = number
                    var object: [String: Any] = [
                        "kind": "demo",
                        "prompt": prompts.randomElement()!,
                        "duration_ms": Int.random(in: 300...2500),
                    ]
                    if number % 7 == 3 { object["fail"] = true }
                    try await submit(worker.name, object, id: String(format: "%@-%03d", worker.name, number))
                }
            }
            wave += 1
            try await Task.sleep(for: .seconds(1))
        }
    }

    /// The status board and the latest transitions, every second, for the run's duration.
    private func liveBoard(_ board: StatusBoard, progress: Progress) async throws {
        let live = Console.isTerminal
        let start = ContinuousClock.now
        if live { Console.clearScreen() }
        var printed = ContinuousClock.now - .seconds(60)
        while true {
            let elapsed = start.duration(to: .now)
            let rows = await board.collect()
            let totals = rows.compactMap(\.status).reduce(into: (completed: 0, failed: 0)) {
                $0.completed += Int($1.completed)
                $0.failed += Int($1.failed)
            }
            var text = "pipebus demo — \(root) — \(DurationText.format(elapsed)) of \(DurationText.format(duration))"
            text +=
                "   submitted \(progress.submitted.withLock { $0 }), completed \(totals.completed), failed \(totals.failed)\n\n"
            text += StatusBoard.render(rows)
            text +=
                "\n\nlatest transitions:\n" + progress.recent.withLock { $0.map { "  " + $0 }.joined(separator: "\n") }
            if live {
                Console.redraw(text)
            } else if ContinuousClock.now - printed >= .seconds(5) {
                Console.out(text + "\n")
                printed = ContinuousClock.now
            }
            if elapsed >= duration { break }
            try await Task.sleep(for: min(.seconds(1), duration - elapsed))
        }
    }

    /// A few figures from a worker's `/metrics`, or why it did not answer.
    private func metricsSummary(port: Int, worker: String) -> String {
        guard let (status, body) = LocalHTTP.get(port: port, path: "/metrics") else { return "(no answer)" }
        guard status == 200 else { return "(HTTP \(status))" }
        func value(_ name: String) -> String? {
            body.split(separator: "\n").first { $0.hasPrefix(name + "{") || $0.hasPrefix(name + " ") }
                .flatMap { $0.split(separator: " ").last.map(String.init) }
        }
        let figures = [
            "active_tasks", "task_queue_depth", "task_failed_total", "task_processing_duration_seconds_count",
        ]
        .compactMap { name in value(name).map { "\(name)=\($0)" } }
        return "200 OK" + (figures.isEmpty ? "" : ": " + figures.joined(separator: " "))
    }

    // MARK: Stopping

    /// SIGTERM to every sidecar; they drain, stop their workers and exit. Then checks that no
    /// process and no FIFO is left.
    private func stop(_ sidecars: [String: ChildProcess], workerPIDs: [pid_t]) async -> Bool {
        say("\n▸ stopping: SIGTERM to every sidecar")
        let started = ContinuousClock.now
        for sidecar in sidecars.values { sidecar.send(SIGTERM) }
        var ok = true
        for worker in workers {
            guard let sidecar = sidecars[worker.name] else { continue }
            if let exit = await sidecar.wait(timeout: .seconds(20)) {
                if exit.isSuccess {
                    say("  \(worker.name): sidecar \(sidecar.pid) drained, stopped its worker and exited 0")
                } else {
                    ok = false
                    say("  ✗ \(worker.name): sidecar \(sidecar.pid) \(exit)\n\(sidecar.logTail())")
                }
            } else {
                ok = false
                sidecar.send(SIGKILL)
                _ = await sidecar.wait(timeout: .seconds(5))
                say("  ✗ \(worker.name): sidecar \(sidecar.pid) did not exit within 20 s of SIGTERM; killed")
            }
        }
        say("  stopped in \(DurationText.format(started.duration(to: .now)))")

        let pids = sidecars.values.map(\.pid) + workerPIDs
        let deadline = ContinuousClock.now + .seconds(5)
        var left = pids.filter(processExists)
        while !left.isEmpty && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
            left = left.filter(processExists)
        }
        if left.isEmpty {
            say(
                "✓ no process left (sidecars \(sidecars.values.map { "\($0.pid)" }.sorted().joined(separator: ", ")); workers \(workerPIDs.sorted().map { "\($0)" }.joined(separator: ", ")))"
            )
        } else {
            ok = false
            say("✗ still running: \(left.map { "\($0)" }.joined(separator: ", "))")
        }
        let fifos = Self.fifos(under: root)
        if fifos.isEmpty {
            say("✓ no FIFO left under \(root)")
        } else {
            ok = false
            say("✗ FIFOs left: \(fifos.joined(separator: ", "))")
        }
        return ok
    }

    /// Every FIFO below `directory`.
    static func fifos(under directory: String) -> [String] {
        guard let enumerator = FileManager.default.enumerator(atPath: directory) else { return [] }
        var found: [String] = []
        while let relative = enumerator.nextObject() as? String {
            var info = stat()
            if lstat("\(directory)/\(relative)", &info) == 0, info.st_mode & S_IFMT == S_IFIFO {
                found.append("\(directory)/\(relative)")
            }
        }
        return found.sorted()
    }

    private func say(_ line: String) {
        Console.out(line)
    }
}
