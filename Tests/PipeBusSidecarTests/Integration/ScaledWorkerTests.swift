import Foundation
import PipeBusCore
import PipeBusTestSupport
import Synchronization
import Testing
import PipeBusTasks

#if canImport(Glibc)
import Glibc
#endif

/// DESIGN §6 and the runbook's first mitigation (`docker-compose scale marie=2`): several
/// instances of one worker, each a sidecar supervising its own pipe worker, share the worker's
/// spool as competing consumers. Real processes, real FIFOs, a real spool on disk.
@Suite("Sidecar integration: a scaled-out worker", .serialized)
struct ScaledWorkerTests {
    static let taskCount = 2000

    /// Instances of `root.worker`, each with a `pipebus worker` whose tasks take no time.
    struct Instances {
        let root: Integration.Root
        let names: [String]
        var sidecars: [String: Integration.SidecarProcess] = [:]
        var clients: [String: Integration.Client] = [:]
        var events: [String: Integration.EventCollector] = [:]

        /// `taskMilliseconds`: how long an instance's worker takes over a task whose payload does
        /// not say (`duration_ms`); 0 for an instance not named.
        static func start(_ root: Integration.Root, _ names: [String], workers: Bool = true, taskMilliseconds: [String: Int] = [:]) async throws -> Instances {
            var instances = Instances(root: root, names: names)
            for name in names {
                let sidecar = try await Integration.SidecarProcess(
                    root: root,
                    heartbeatInterval: 0.5,
                    mode: "pipe",
                    metrics: true,
                    extraArguments: ["--log-level", "info"],
                    command: workers ? [Integration.executable, "worker", "--min-ms", "\(taskMilliseconds[name] ?? 0)", "--max-ms", "\(taskMilliseconds[name] ?? 0)", "--log-level", "warning"] : [],
                    instance: name
                )
                instances.sidecars[name] = sidecar
                let client = try await Integration.Client.connect(root, instance: name, timeout: .seconds(10))
                instances.clients[name] = client
                instances.events[name] = try await Integration.subscribeToEvents(client)
            }
            return instances
        }

        /// Submits `count` tasks `t-0…`, spread over the instances, several at a time.
        func submit(_ count: Int, payload: String = #"{"prompt":"scale","duration_ms":0}"#) async throws {
            let clients = names.compactMap { self.clients[$0] }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for lane in 0..<8 {
                    group.addTask {
                        var index = lane
                        while index < count {
                            _ = try await clients[index % clients.count].submit(payload, id: "t-\(index)")
                            index += 8
                        }
                    }
                }
                for try await _ in group {}
            }
        }

        func waitUntilCompleted(_ count: Int, timeout: Duration = .seconds(240)) async throws {
            try await eventually("\(count) tasks in completed/ (now \(root.taskIDs("completed").count))", timeout: timeout, every: .milliseconds(200)) {
                root.taskIDs("completed").count >= count
            }
        }

        /// Every instance's `/metrics`, by instance.
        func scrapes() async throws -> [String: String] {
            var scrapes: [String: String] = [:]
            for name in names {
                guard let sidecar = sidecars[name], sidecar.process.exited == nil else { continue }
                scrapes[name] = try await LoopbackHTTPClient(port: try await sidecar.metricsPort()).scrapeMetrics()
            }
            return scrapes
        }

        /// Transitions into `to` on every instance's event stream, by task id.
        func transitions(to state: Pipebus_Tasks_V1_TaskState, from: Pipebus_Tasks_V1_TaskState? = nil) -> [String: Int] {
            var seen: [String: Int] = [:]
            for collector in events.values {
                for event in collector.messages where event.kind == .transition && event.toState == state && (from.map { event.fromState == $0 } ?? true) {
                    seen[event.taskID, default: 0] += 1
                }
            }
            return seen
        }

        func stop() async {
            for collector in events.values { collector.stop() }
            for client in clients.values { client.close() }
            for sidecar in sidecars.values { await sidecar.killEverything() }
        }
    }

    @Test("two, then three instances with a worker each: 2,000 tasks, every one completed exactly once, reported once, counted once")
    func competingConsumers() async throws {
        let scenarios = ProcessInfo.processInfo.environment["PIPEBUS_SCALE_ONLY"].map { [$0.split(separator: ",").map(String.init)] } ?? [["a", "b"], ["a", "b", "c"]]
        for names in scenarios {
            let root = try Integration.Root.make(worker: "marie")
            defer { root.remove() }
            let instances = try await Instances.start(root, names)
            do {
                try await instances.submit(Self.taskCount)
                try await instances.waitUntilCompleted(Self.taskCount)

                // The spool: each task in completed/ only, claimed once, by one of the instances.
                let locations = root.locations()
                #expect(locations.count == Self.taskCount, "\(names.count) instances: \(locations.count) task files for \(Self.taskCount) tasks")
                #expect(locations.values.allSatisfy { $0 == ["completed"] }, "a task outside completed/ or in two folders")
                var byInstance: [String: Int] = [:]
                var claimedTwice: [String] = []
                for id in root.taskIDs("completed") {
                    let object = try root.object(id, "completed")
                    if (object["attempts"] as? Int) != 1 { claimedTwice.append(id) }
                    let instance = (object["result"] as? [String: Any])?["instance"] as? String ?? "?"
                    byInstance[instance, default: 0] += 1
                }
                #expect(claimedTwice.isEmpty, "\(names.count) instances: tasks claimed more than once: \(claimedTwice.prefix(10))")
                #expect(byInstance.values.reduce(0, +) == Self.taskCount)
                #expect(Set(byInstance.keys) == Set(names), "\(names.count) instances: tasks done per instance \(byInstance)")

                // Each transition on exactly one instance's event stream.
                try await eventually("every completion on an event stream", timeout: .seconds(60)) {
                    instances.transitions(to: .completed).count == Self.taskCount
                }
                for (state, from) in [(Pipebus_Tasks_V1_TaskState.pending, Pipebus_Tasks_V1_TaskState.unspecified), (.active, .pending), (.completed, .active)] {
                    let seen = instances.transitions(to: state, from: from)
                    #expect(seen.count == Self.taskCount, "\(names.count) instances: \(seen.count) tasks had \(from) → \(state) reported")
                    let twice = seen.filter { $0.value != 1 }
                    #expect(twice.isEmpty, "\(names.count) instances: \(from) → \(state) reported more than once: \(twice.prefix(5))")
                }

                // The metrics: processing durations counted once over the instances.
                let scrapes = try await instances.scrapes()
                let counts = scrapes.mapValues { Integration.metricValue("task_processing_duration_seconds_count", in: $0) ?? 0 }
                #expect(Int(counts.values.reduce(0, +)) == Self.taskCount, "\(names.count) instances: task_processing_duration_seconds_count by instance \(counts)")
                for (name, scrape) in scrapes {
                    #expect(scrape.contains(#"instance="\#(name)""#), "instance \(name)'s metrics lack its instance label")
                }
            } catch {
                await instances.stop()
                throw error
            }
            await instances.stop()
        }
    }

    @Test("an instance killed with SIGKILL mid-load: its leased tasks go back to pending/ once and the others finish them")
    func killedInstance() async throws {
        let root = try Integration.Root.make(worker: "marie")
        defer { root.remove() }
        // b's worker never finishes a task (an hour each), so what b leases it holds until it
        // dies, whatever the pace of submits against finishes; a's and c's take no time. (With
        // a 20 ms task for everyone, b held 3 at once only when finishing lagged behind
        // submitting: the 3 × batch_size slots of 20 ms take 1,500 tasks/s and the submits came
        // at under 100/s, so the test failed whenever the spool's finishes kept up.)
        let instances = try await Instances.start(root, ["a", "b", "c"], taskMilliseconds: ["b": 3_600_000])
        do {
            try await instances.submit(Self.taskCount, payload: #"{"prompt":"scale"}"#)
            try await eventually("b to hold leases", timeout: .seconds(60), every: .milliseconds(5)) {
                let leases = (try? FileManager.default.contentsOfDirectory(atPath: "\(root.workerDirectory)/instances/b/leases")) ?? []
                return leases.count >= 3
            }
            let b = try #require(instances.sidecars["b"])
            await b.killEverything()
            try await instances.waitUntilCompleted(Self.taskCount)

            let locations = root.locations()
            #expect(locations.count == Self.taskCount)
            #expect(locations.values.allSatisfy { $0 == ["completed"] }, "a task outside completed/ or in two folders")
            var retried: [String: String] = [:]
            for id in root.taskIDs("completed") {
                let object = try root.object(id, "completed")
                let attempts = object["attempts"] as? Int ?? 0
                #expect((1...2).contains(attempts), "task \(id) was claimed \(attempts) times")
                if attempts == 2 { retried[id] = (object["result"] as? [String: Any])?["instance"] as? String ?? "?" }
            }
            // Re-queued once, by one survivor, and finished by a survivor. (A task b had renamed
            // into active/ but not yet rewritten has attempts 0 there, so after its re-queue it
            // is claimed once more and ends with attempts 1: claimed twice ⊆ re-queued.)
            let requeued = ["a", "c"].compactMap { instances.sidecars[$0] }
                .flatMap { $0.logLines(containing: "re-queued a task leased by an instance that is gone") }
                .compactMap { $0["task_id"] as? String }
            #expect(!requeued.isEmpty, "no task of b's was re-queued")
            #expect(Set(requeued).count == requeued.count, "a task re-queued twice: \(requeued.sorted())")
            #expect(Set(retried.keys).isSubset(of: Set(requeued)), "claimed twice but not re-queued from b: \(Set(retried.keys).subtracting(requeued))")
            for id in requeued {
                let object = try root.object(id, "completed")
                let by = (object["result"] as? [String: Any])?["instance"] as? String
                #expect(by == "a" || by == "c", "re-queued task \(id) finished by \(by ?? "?")")
            }
            #expect(FileManager.default.fileExists(atPath: "\(root.workerDirectory)/instances/b/leases"))
            let leftover = (try? FileManager.default.contentsOfDirectory(atPath: "\(root.workerDirectory)/instances/b/leases")) ?? []
            #expect(leftover.isEmpty, "b's lease notes left after reaping: \(leftover)")

            // No transition reported twice, dead instance or not.
            let completions = instances.transitions(to: .completed)
            #expect(completions.filter { $0.value > 1 }.isEmpty, "completions reported twice")
            // The worker's heartbeat is kept by the survivors.
            let before = try #require(root.heartbeat()?["seq"] as? Int)
            try await eventually("the worker's heartbeat seq to go on increasing", timeout: .seconds(5)) {
                ((root.heartbeat()?["seq"] as? Int) ?? 0) > before
            }
        } catch {
            await instances.stop()
            throw error
        }
        await instances.stop()
    }

    @Test("task_queue_depth summed over instances is the worker's queue; each instance has its own FIFOs and heartbeat")
    func worker_wideFiguresOnce() async throws {
        let root = try Integration.Root.make(worker: "marie")
        defer { root.remove() }
        // Pipe mode without workers: nothing leases, so the queue stays put.
        let instances = try await Instances.start(root, ["a", "b"], workers: false)
        do {
            try await instances.submit(50)
            try await eventually("task_queue_depth summed over the instances to be 50", timeout: .seconds(10)) {
                let scrapes = try await instances.scrapes()
                let depths = scrapes.values.compactMap { Integration.metricValue("task_queue_depth", in: $0) }
                return depths.count == 2 && depths.reduce(0, +) == 50 && depths.contains(0)
            }
            for name in ["a", "b"] {
                let pipes = "\(root.workerDirectory)/instances/\(name)/pipes"
                #expect(Integration.lstatKind("\(pipes)/connect") == S_IFIFO, "instance \(name) has no connect FIFO of its own")
                let heartbeat = try #require(root.heartbeat(instance: name), "instance \(name) has no heartbeat.json")
                #expect(heartbeat["instance"] as? String == name)
            }
            let worker = try #require(root.heartbeat(), "the worker's heartbeat.json is missing")
            #expect(["a", "b"].contains(worker["instance"] as? String ?? ""))
            #expect(worker["timestamp"] is String)
        } catch {
            await instances.stop()
            throw error
        }
        await instances.stop()
    }

    @Test("a second sidecar with the same --instance is refused and the first keeps serving")
    func sameInstanceTwice() async throws {
        let root = try Integration.Root.make(worker: "marie")
        defer { root.remove() }
        let first = try await Integration.SidecarProcess(root: root, heartbeatInterval: 0.5, instance: "a")
        let (exit, output) = try await Integration.run(
            [
                Integration.executable, "sidecar", "--worker", root.worker, "--root", root.path,
                "--metrics-address", "none", "--instance", "a",
            ],
            timeout: .seconds(20)
        )
        #expect(exit.code == 1, "\(exit): \(output)")
        #expect(output.contains("another sidecar (pid \(first.pid)) is running as instance a"), "\(output)")
        let client = try Integration.Client.connect(root, instance: "a")
        defer { client.close() }
        #expect(try await client.health().status == .serving)
        await first.killEverything()
    }

    @Test("pipebus health and status across instances: SERVING while any instance is; --instance asks one; a row per instance")
    func cliAcrossInstances() async throws {
        let root = try Integration.Root.make(worker: "marie")
        defer { root.remove() }
        let a = try await Integration.SidecarProcess(root: root, heartbeatInterval: 0.5, instance: "a")
        let b = try await Integration.SidecarProcess(root: root, heartbeatInterval: 0.5, instance: "b")
        let cli = [Integration.executable]
        let health = { (extra: [String]) async throws -> (Int32, String) in
            let (exit, output) = try await Integration.run(cli + ["health", "--root", root.path, "--worker", "marie"] + extra, timeout: .seconds(20))
            return (exit.code ?? -1, output)
        }
        let (statusExit, statusJSON) = try await Integration.run(cli + ["status", "--root", root.path, "--json"], timeout: .seconds(20))
        #expect(statusExit.code == 0, "\(statusJSON)")
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(statusJSON.utf8)) as? [[String: Any]], "\(statusJSON)")
        #expect(rows.compactMap { $0["instance"] as? String }.sorted() == ["a", "b"], "\(rows)")
        #expect(rows.allSatisfy { $0["worker"] as? String == "marie" && $0["health"] as? String == "SERVING" }, "\(rows)")

        await b.killEverything()
        let (anyExit, anyOutput) = try await health([])
        #expect(anyExit == 0, "one instance of two is SERVING, so the worker is: \(anyOutput)")
        #expect(anyOutput.contains("1 of 2 instances serving"), "\(anyOutput)")
        let (aExit, _) = try await health(["--instance", "a"])
        #expect(aExit == 0)
        let (bExit, bOutput) = try await health(["--instance", "b"])
        #expect(bExit == 1, "instance b is dead: \(bOutput)")
        #expect(bOutput.contains("UNREACHABLE"), "\(bOutput)")

        await a.killEverything()
        let (noneExit, noneOutput) = try await health([])
        #expect(noneExit == 1, "no instance is serving: \(noneOutput)")
    }
}
