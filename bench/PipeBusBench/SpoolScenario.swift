import FoundationEssentials
import Glibc

/// Issue 18's spool targets, end to end through the public API: real `pipebus sidecar`
/// processes in pipe mode, each supervising a `pipebus worker` that finishes every task at once
/// (`duration_ms: 0`), and a client process submitting through `SidecarClient.submit` until the
/// workers have finished every task (submit → lease → finish, three durable steps each).
///
/// Cases: one submitter on one instance (the submit-acknowledged p50, target ≤ 2 ms); 16
/// concurrent submitters on one instance (target ≥ 3,000 tasks/s); 16 on two instances sharing
/// the spool. Beside them, the disk's fsync latency measured in the same run in the same folder,
/// and the physical limit it sets: tasks/s ≤ 1 ÷ (fsyncs per task × fsync time), where the fsyncs
/// per task are the sidecars' `fsync`/`fdatasync` calls counted by `perf stat` over the case
/// (group commit makes it the unbatched count ÷ tasks per batch).
///
/// The client runs on CPU 0, the sidecars and their workers on CPU 1 (`taskset`), so the
/// placement is two-vCPU; fsync-bound figures move little with placement.
struct SpoolScenario: Scenario {
    let name = "spool"
    let summary = "zero-time tasks submit → lease → finish through sidecar processes: 1 and 16 submitters, 1 and 2 instances; fsync limit"

    static let worker = "bench"
    static let batchSize = 64
    static let singleTarget = 2e6  // ns: the issue's submit-acknowledged p50 with one submitter
    static let rateTarget = 3000.0  // tasks/s with 16 submitters on one instance

    struct Case {
        var label: String
        var submitters: Int
        var instances: Int
        var count: Int
    }

    func run(in context: BenchContext) async throws -> [BenchResult] {
        let placement = Placement.twoVCPU
        let pipebus: String
        do {
            pipebus = try Self.locatePipeBus()
        } catch {
            return [
                BenchResult(
                    scenario: name, label: "spool", placement: placement, payloadSize: 0, count: 0,
                    note: "SKIPPED: \(error)"
                )
            ]
        }
        let single = max(200, context.roundTrips / 20)
        let concurrent = max(1600, context.roundTrips * 2 / 5)
        let cases = [
            Case(label: "1 submitter, 1 instance", submitters: 1, instances: 1, count: single),
            Case(label: "16 submitters, 1 instance", submitters: 16, instances: 1, count: concurrent),
            Case(label: "16 submitters, 2 instances", submitters: 16, instances: 2, count: concurrent),
        ]
        let scratch = try ScratchDirectory.make(prefix: "pipebus-bench-spool")
        defer { Self.remove(scratch) }

        context.progress.begin("[spool] fsync latency of \(scratch)")
        let fsync = try FsyncProbe.measure(in: scratch, count: 200)
        var results = [fsync.result(scenario: name)]

        for spoolCase in cases {
            context.progress.begin("[spool] \(spoolCase.label): \(spoolCase.count) tasks")
            do {
                results.append(try measure(spoolCase, pipebus: pipebus, scratch: scratch, fsync: fsync, context: context))
            } catch {
                results.append(
                    .failure(scenario: name, label: spoolCase.label, placement: placement, payloadSize: 0, error: error)
                )
            }
        }
        return results
    }

    private func measure(
        _ spoolCase: Case,
        pipebus: String,
        scratch: String,
        fsync: FsyncProbe,
        context: BenchContext
    ) throws -> BenchResult {
        let root = try ScratchDirectory.make(in: scratch, prefix: "root")
        try FileManager.default.createDirectory(atPath: root + "/config", withIntermediateDirectories: true)
        try Data(#"{"batch_size": \#(Self.batchSize)}"#.utf8).write(to: URL(fileURLWithPath: root + "/config/\(Self.worker).json"))
        let instances = (0..<spoolCase.instances).map { "i\($0)" }
        let sidecars = try instances.map { try SidecarUnderTest(pipebus, root: root, instance: $0) }
        var stopped = false
        defer { if !stopped { for sidecar in sidecars { _ = sidecar.stop() } } }
        let report = try context.peers.run(
            SpoolClientRole.self,
            configuration: .init(
                root: root,
                worker: Self.worker,
                instances: instances,
                submitters: spoolCase.submitters,
                warmup: max(spoolCase.submitters * 4, spoolCase.count / 10),
                count: spoolCase.count
            ),
            cpus: [Placement.twoVCPU.clientCPU]
        )
        let fsyncCounts = sidecars.map { $0.stop() }
        stopped = true
        let counted = fsyncCounts.contains(nil) ? nil : fsyncCounts.compactMap { $0 }.reduce(0, +)
        let tasks = spoolCase.count + max(spoolCase.submitters * 4, spoolCase.count / 10)
        let elapsed = Double(max(1, report.finishedNanoseconds - report.startNanoseconds)) / 1e9
        let perSecond = Double(spoolCase.count) / elapsed
        let latency = LatencySummary(samples: report.samples)

        var notes: [String] = []
        if spoolCase.submitters == 1 {
            let met = latency.p50 <= Self.singleTarget ? "met" : "NOT met"
            notes.append("submit ack p50 \(ReportFormat.nanoseconds(latency.p50)) (target ≤ 2 ms: \(met))")
        } else {
            let target = spoolCase.instances == 1 ? " (target ≥ 3,000/s: \(perSecond >= Self.rateTarget ? "met" : "NOT met"))" : ""
            notes.append("\(ReportFormat.rate(perSecond)) tasks/s end to end\(target)")
        }
        var ratio: Double?
        if let counted {
            let perTask = Double(counted) / Double(tasks)
            let limit = 1 / (perTask * fsync.single.p50 / 1e9)
            ratio = limit / perSecond
            notes.append(
                "\(ReportFormat.fixed(perTask, digits: 2)) fsyncs/task → limit \(ReportFormat.rate(limit)) tasks/s"
            )
        } else {
            notes.append("fsyncs/task not counted (needs `perf stat` with syscall tracepoints)")
        }
        return BenchResult(
            scenario: name,
            label: spoolCase.label,
            placement: .twoVCPU,
            payloadSize: 0,
            count: spoolCase.count,
            latency: latency,
            messagesPerSecond: perSecond,
            ratioToBaseline: ratio,
            ratioBasis: "fsync-limit tasks/s / tasks/s (limit = 1 ÷ (sidecar fsyncs per task × one fsync's p50), same run)",
            note: notes.joined(separator: "; "),
            histogram: LatencySummary.makeHistogram(samples: report.samples)
        )
    }

    /// The release `pipebus` beside the harness.
    private static func locatePipeBus() throws -> String {
        let path = try ExecutableLookup.besideHarness("pipebus")
        guard access(path, X_OK) == 0 else {
            throw BenchError("no \(path): build it with `swift build -c release --product pipebus`")
        }
        return path
    }

    private static func remove(_ path: String) {
        _ = try? FileManager.default.removeItem(atPath: path)
    }
}

/// The disk's fsync latency where the spool lives: a small file written, fsynced, renamed, and
/// its folder fsynced, as the spool does each step (DESIGN §5: ~0.57 ms p50 for the pair here).
struct FsyncProbe {
    /// One fsync, file and folder fsyncs pooled, and the pair.
    var single: LatencySummary
    var pair: LatencySummary
    var fileP50: Double
    var folderP50: Double
    var pairSamples: [UInt64]
    var count: Int

    static func measure(in directory: String, count: Int) throws -> FsyncProbe {
        let folder = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard folder >= 0 else { throw BenchError("open \(directory)", errno: errno) }
        defer { close(folder) }
        let bytes = Array(#"{"id":"probe","duration_ms":0,"kind":"bench","attempts":1}"#.utf8)
        var files: [UInt64] = []
        var folders: [UInt64] = []
        var pairs: [UInt64] = []
        for index in 0..<count {
            let temporary = "\(directory)/.probe-\(index).tmp"
            let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw BenchError("create \(temporary)", errno: errno) }
            guard write(fd, bytes, bytes.count) == bytes.count else {
                close(fd)
                throw BenchError("write \(temporary)", errno: errno)
            }
            let start = MonotonicClock.nanoseconds()
            let synced = fsync(fd)
            let fileDone = MonotonicClock.nanoseconds()
            close(fd)
            guard synced == 0 else { throw BenchError("fsync \(temporary)", errno: errno) }
            guard rename(temporary, "\(directory)/probe-\(index).json") == 0 else {
                throw BenchError("rename \(temporary)", errno: errno)
            }
            let folderStart = MonotonicClock.nanoseconds()
            guard fsync(folder) == 0 else { throw BenchError("fsync \(directory)", errno: errno) }
            let end = MonotonicClock.nanoseconds()
            files.append(fileDone - start)
            folders.append(end - folderStart)
            pairs.append(fileDone - start + end - folderStart)
        }
        for index in 0..<count { unlink("\(directory)/probe-\(index).json") }
        return FsyncProbe(
            single: LatencySummary(samples: files + folders),
            pair: LatencySummary(samples: pairs),
            fileP50: LatencySummary(samples: files).p50,
            folderP50: LatencySummary(samples: folders).p50,
            pairSamples: pairs,
            count: count
        )
    }

    func result(scenario: String) -> BenchResult {
        BenchResult(
            scenario: scenario,
            label: "fsync file + folder",
            placement: .inProcess,
            payloadSize: 0,
            count: count,
            latency: pair,
            note: "one fsync p50 \(ReportFormat.nanoseconds(single.p50)) (file \(ReportFormat.nanoseconds(fileP50)), "
                + "folder \(ReportFormat.nanoseconds(folderP50))); the disk the spool rows use",
            histogram: LatencySummary.makeHistogram(samples: pairSamples)
        )
    }
}

/// A `pipebus sidecar` in pipe mode on CPU 1 with its `pipebus worker`, logging to a file in
/// the root (a pipe nobody reads would fill and stall it), run under `perf stat` when it can
/// count syscall tracepoints: in-kernel counting of the `fsync` and `fdatasync` calls of the
/// sidecar and every thread it starts (a forked workload's counters are inherited; attaching
/// with `-p` would miss the connection threads, which start later and do the fsyncs).
final class SidecarUnderTest {
    private let process: ChildProcess
    private let perfOutput: String?
    /// How the sidecar's command line starts in /proc (to find it under perf; perf's own
    /// command line holds it too, after `--`).
    private let signature: String

    init(_ pipebus: String, root: String, instance: String) throws {
        let pin = ExecutableLookup.onPath("taskset").map { "\($0) -c \(Placement.twoVCPU.serverCPU) " } ?? ""
        let perfOutput = Self.perfWorks ? "\(root)/perf-\(instance).txt" : nil
        let perf = perfOutput.map {
            "perf stat -x , -o '\($0)' -e syscalls:sys_enter_fsync,syscalls:sys_enter_fdatasync -- "
        } ?? "exec "
        let command =
            "\(perf)\(pin)'\(pipebus)' sidecar --worker \(SpoolScenario.worker) --root '\(root)' --instance \(instance) "
            + "--metrics-address none --heartbeat-interval 1s --mode pipe --log-level warning "
            + "-- '\(pipebus)' worker --min-ms 0 --max-ms 0 --batch-size \(SpoolScenario.batchSize) --log-level warning "
            + ">'\(root)/sidecar-\(instance).log' 2>&1"
        process = try ChildProcess(executable: "/bin/sh", arguments: ["-c", command])
        self.perfOutput = perfOutput
        signature = " \(pipebus) sidecar --worker \(SpoolScenario.worker) --root \(root) --instance \(instance) "
    }

    /// Stops the sidecar (SIGTERM: it drains, stops its worker and exits); the fsync calls
    /// counted over its life, or nil when not counted.
    func stop() -> Int? {
        // Under perf the sidecar is the shell's grandchild: the shell waits for perf, perf for it.
        if perfOutput != nil {
            for pid in Self.processes() where Self.command(of: pid).hasPrefix(signature) {
                kill(pid, SIGTERM)
            }
        } else {
            process.send(SIGTERM)
        }
        _ = try? process.finish(timeout: .seconds(30))
        guard let perfOutput, let text = try? String(contentsOfFile: perfOutput, encoding: .utf8) else { return nil }
        let counts = text.split(separator: "\n").filter { $0.contains("sys_enter_f") }.map {
            Int($0.split(separator: ",", omittingEmptySubsequences: false).first ?? "") ?? 0
        }
        return counts.isEmpty ? nil : counts.reduce(0, +)
    }

    /// Whether `perf stat` can count the fsync tracepoint here (root or a permissive
    /// perf_event_paranoid, tracefs mounted).
    static let perfWorks: Bool = {
        guard let perf = ExecutableLookup.onPath("perf"),
            let probe = try? ChildProcess(
                executable: perf,
                arguments: ["stat", "-x", ",", "-e", "syscalls:sys_enter_fsync", "--", "/bin/true"]
            )
        else { return false }
        return (try? probe.finish(timeout: .seconds(30))) != nil
    }()

    private static func processes() -> [pid_t] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { pid_t($0) }
    }

    private static func command(of pid: pid_t) -> String {
        let bytes = (try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline"))) ?? Data()
        return " " + String(decoding: bytes.map { $0 == 0 ? 32 : $0 }, as: UTF8.self)
    }
}
