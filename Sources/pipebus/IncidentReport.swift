import Foundation
import PipeBusCore
import PipeBusSidecar
import PipeBusTasks

#if canImport(Glibc)
import Glibc
#endif

/// The runbook's incident report ("Post-Incident Actions: Document Findings"): its template,
/// word for word, with the figures the spool can give filled in and `[FILL IN]` left for what
/// only a person knows; the slowest tasks and their correlation ids follow it.
///
/// Figures come from the task files finished in the window (in `completed/` or `failed/` with
/// an mtime inside it, or archived by retention with an `entered_at` inside it): latency is the
/// file's mtime (the archive's `entered_at`) minus its `submitted_at`.
struct IncidentReport {
    /// A task finished within the window.
    struct FinishedTask {
        var worker: String
        var id: String
        var failed: Bool
        var latency: Double
        var correlationID: String
        var traceID: String
        var error: String?
    }

    var root: String
    var window: Duration
    var threshold: Duration
    var now: Date
    var finished: [FinishedTask] = []
    /// Active tasks older than the threshold now, by worker.
    var stillActive: [(worker: String, id: String, age: Double)] = []
    /// Sections added after the figures (`incident --diagnose` adds the diagnosis).
    var appendix = ""

    init(root: String, window: Duration, threshold: Duration, now: Date = Date()) {
        self.root = root
        self.window = window
        self.threshold = threshold
        self.now = now
    }

    /// Reads every worker's spool under the root.
    mutating func collect() {
        let since = now.addingTimeInterval(-DurationText.seconds(window))
        let layout = RootLayout(root: root)
        let workers =
            (try? FileManager.default.contentsOfDirectory(atPath: layout.tasksDirectory))?.filter { !$0.hasPrefix(".") }
            .sorted() ?? []
        for worker in workers {
            for state in [TaskState.completed, .failed] {
                for (id, object, modified) in Self.taskFiles(
                    in: layout.stateDirectory(worker: worker, folder: state.folderName),
                    modifiedSince: since
                ) {
                    let file = TaskFile(object: object)
                    finished.append(
                        FinishedTask(
                            worker: worker,
                            id: id,
                            failed: state == .failed,
                            latency: max(0, modified.timeIntervalSince(file.submittedAtDate ?? modified)),
                            correlationID: file.correlationID ?? "",
                            traceID: file.traceContext?.traceID ?? "",
                            error: file.error
                        )
                    )
                }
            }
            // Retention may have archived tasks of the window already (a short age or a count limit).
            for task in archivedTasks(worker: worker, since: since, now: now) {
                let file = TaskFile(object: (try? TaskFile.parseObject(task.json)) ?? [:])
                finished.append(
                    FinishedTask(
                        worker: worker,
                        id: task.id.rawValue,
                        failed: task.state == .failed,
                        latency: max(0, task.enteredState.timeIntervalSince(file.submittedAtDate ?? task.enteredState)),
                        correlationID: file.correlationID ?? "",
                        traceID: file.traceContext?.traceID ?? "",
                        error: file.error
                    )
                )
            }
            for (id, _, modified) in Self.taskFiles(in: layout.stateDirectory(worker: worker, folder: TaskState.active.folderName)) {
                let age = now.timeIntervalSince(modified)
                if age > DurationText.seconds(threshold) { stillActive.append((worker, id, age)) }
            }
        }
        finished.sort { $0.latency > $1.latency }
    }

    /// Task files of a state folder: id (from the name), object, mtime; with `modifiedSince`,
    /// only files whose mtime is at or after it, and only those are read (a folder of a million
    /// finished tasks costs a million lstat calls, not a million reads).
    static func taskFiles(in directory: String, modifiedSince: Date? = nil) -> [(String, [String: Any], Date)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        var files: [(String, [String: Any], Date)] = []
        for name in names where name.hasSuffix(".json") && !name.hasPrefix(".") {
            let path = "\(directory)/\(name)"
            var info = stat()
            guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { continue }
            let modified = Date(timeIntervalSince1970: Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec) / 1e9)
            if let modifiedSince, modified < modifiedSince { continue }
            guard let data = FileManager.default.contents(atPath: path),
                let object = try? TaskFile.parseObject(Array(data))
            else { continue }
            files.append((String(name.dropLast(5)), object, modified))
        }
        return files
    }

    /// Finished tasks of `worker` archived by retention that entered their folder since `since`.
    func archivedTasks(worker: String, since: Date, now: Date) -> [TaskArchive.Task] {
        var query = TaskListingQuery()
        query.states = [.completed, .failed]
        query.enteredWithin = .milliseconds(Int64(max(0, now.timeIntervalSince(since)) * 1000))
        guard let archive = try? TaskArchive(root: root, worker: worker) else { return [] }
        return (try? archive.tasks(query, now: now)) ?? []
    }

    var failedCount: Int { finished.count { $0.failed } }
    var slowCount: Int { finished.count { $0.latency > DurationText.seconds(threshold) } }
    /// Failed or slower than the threshold, or still stuck in active.
    var affectedCount: Int {
        finished.count { $0.failed || $0.latency > DurationText.seconds(threshold) } + stillActive.count
    }

    var peakLatencyText: String {
        guard let slowest = finished.first else {
            return "[FILL IN] (no task finished in the last \(DurationText.format(window)))"
        }
        return
            "\(DurationText.format(seconds: slowest.latency)) (task \(slowest.id) on \(slowest.worker), correlation_id \(slowest.correlationID))"
    }

    var tasksAffectedText: String {
        guard !finished.isEmpty || !stillActive.isEmpty else { return "[FILL IN] (no task finished in the window)" }
        var text = "\(affectedCount) (\(failedCount) failed, \(slowCount) slower than \(DurationText.format(threshold))"
        if !stillActive.isEmpty {
            text += ", \(stillActive.count) still active for longer than \(DurationText.format(threshold))"
        }
        return text + "; \(finished.count) finished in the last \(DurationText.format(window)))"
    }

    var errorRateText: String {
        guard !finished.isEmpty else { return "[FILL IN] (no task finished in the window)" }
        let rate = Double(failedCount) / Double(finished.count) * 100
        return String(format: "%.1f%% (%d failed / %d finished)", rate, failedCount, finished.count)
    }

    /// The report's text.
    func render(slowest limit: Int = 10) -> String {
        var text = """
            # Incident Report: Slow Task Processing

            **Date:** \(Self.dateText(now))
            **Duration:** [FILL IN]
            **Impact:** [FILL IN]

            ## Root Cause
            [FILL IN]

            ## Resolution
            [FILL IN]

            ## Action Items
            - [ ] [FILL IN]

            ## Metrics
            - Peak latency: \(peakLatencyText)
            - Tasks affected: \(tasksAffectedText)
            - Error rate: \(errorRateText)

            """
        text += "\n## Slowest tasks\n"
        text +=
            "Finished in the last \(DurationText.format(window)) (latency = finished − submitted_at), from \(root)/tasks/*/{completed,failed}/.\n\n"
        if finished.isEmpty {
            text += "None.\n"
        } else {
            text += "| task | worker | state | latency | correlation_id | trace_id | error |\n"
            text += "|---|---|---|---|---|---|---|\n"
            for task in finished.prefix(limit) {
                let error = (task.error ?? "").replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(
                    of: "\n",
                    with: " "
                )
                text +=
                    "| \(task.id) | \(task.worker) | \(task.failed ? "failed" : "completed") | \(DurationText.format(seconds: task.latency)) "
                text += "| \(task.correlationID) | \(task.traceID) | \(error) |\n"
            }
            if let slowest = finished.first, !slowest.correlationID.isEmpty {
                text +=
                    "\nLogs of the slowest: `{job=\"agent-orchestrator\"} | json | correlation_id=\"\(slowest.correlationID)\"`\n"
            }
        }
        if !stillActive.isEmpty {
            text += "\n## Still active for longer than \(DurationText.format(threshold))\n\n"
            for task in stillActive.sorted(by: { $0.age > $1.age }) {
                text += "- \(task.id) on \(task.worker): \(DurationText.format(seconds: task.age))\n"
            }
        }
        return text + appendix
    }

    /// What `$(date)` prints in the C locale: `Sat Nov 29 09:09:38 UTC 2025`.
    static func dateText(_ date: Date) -> String {
        localTime(date, format: "%a %b %e %H:%M:%S %Z %Y")
    }

    /// `YYYYmmdd-HHMMSS` in local time, as `$(date +%Y%m%d-%H%M%S)`.
    static func fileStamp(_ date: Date) -> String {
        localTime(date, format: "%Y%m%d-%H%M%S")
    }

    /// `date` in local time, formatted by strftime(3), as the runbook's shell commands do.
    private static func localTime(_ date: Date, format: String) -> String {
        var seconds = time_t(date.timeIntervalSince1970)
        var fields = tm()
        localtime_r(&seconds, &fields)
        var buffer = [CChar](repeating: 0, count: 128)
        let count = strftime(&buffer, buffer.count, format, &fields)
        return String(decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Writes the report to `<root>/incidents/<YYYYmmdd-HHMMSS>-slow-tasks.md`, durably and
    /// never over an existing report (a second report in the same second takes the next
    /// second's name). Returns the path.
    func write() throws -> String {
        let directory = RootLayout(root: root).incidentsDirectory
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw CLIError("cannot create \(directory): \(error.localizedDescription)")
        }
        let bytes = Array(render().utf8)
        let temporary = "\(directory)/.incident-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard fd >= 0 else { throw CLIError("cannot write \(temporary): \(String(cString: strerror(errno)))") }
        defer { unlink(temporary) }
        let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd) == 0
        close(fd)
        guard written == bytes.count, synced else {
            throw CLIError("cannot write \(temporary): \(String(cString: strerror(errno)))")
        }
        for offset in 0..<60 {
            let path = "\(directory)/\(Self.fileStamp(now.addingTimeInterval(Double(offset))))-slow-tasks.md"
            if link(temporary, path) == 0 {
                let directoryFD = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                if directoryFD >= 0 {
                    fsync(directoryFD)
                    close(directoryFD)
                }
                return path
            }
            guard errno == EEXIST else { throw CLIError("cannot write \(path): \(String(cString: strerror(errno)))") }
        }
        throw CLIError("too many incident reports in \(directory) for this minute")
    }
}
