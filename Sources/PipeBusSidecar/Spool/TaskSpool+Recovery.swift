public import Foundation
import PipeBusCore
public import PipeBusTasks

#if canImport(Glibc)
import Glibc
#endif
import PipeBusSystem
import SystemPackage

extension TaskSpool {
    /// Cleans the spool on start: removes temp files left by interrupted writes, moves every
    /// entry that is not a task file to `.quarantine/` (a symlink, never followed; a FIFO or a
    /// device, never opened; a file over the size limit; invalid JSON or a non-object; a name
    /// that is not `<task id>.json`), logging each, and counts the tasks in each state.
    ///
    /// `checkedBefore`: a finished task (in `completed/` or `failed/`) that entered its folder
    /// before then is trusted to be a task file if it is a regular file of a valid name within
    /// the size limit: one `lstat`, not a read and a parse. A sidecar passes the time its
    /// watcher, which checks every arrival, was last known to run, so a start costs a stat per
    /// finished task rather than a read (at 10⁶ finished tasks, most of a minute). Nil reads
    /// every file.
    public func recover(checkedBefore: Date? = nil) throws -> RecoveryReport {
        try translatingSystemErrors(subject: "spool") {
            var report = RecoveryReport()
            for state in TaskState.allCases {
                var count = 0
                let trustedBefore = state == .completed || state == .failed ? checkedBefore.map(SpoolClock.timespec) : nil
                for entry in try layout.directoryPath(state).entries() {
                    switch try recover(entry, in: state, into: &report, trustedBefore: trustedBefore) {
                    case .task: count += 1
                    case .other, .unreadableForNow: break
                    }
                }
                report.counts[state] = count
            }
            logger.info(
                "spool recovered",
                metadata: [
                    "pending": "\(report.counts[.pending] ?? 0)", "active": "\(report.counts[.active] ?? 0)",
                    "completed": "\(report.counts[.completed] ?? 0)", "failed": "\(report.counts[.failed] ?? 0)",
                    "temp_files_removed": "\(report.removedTemporaryFiles)",
                    "quarantined": "\(report.quarantined.count)",
                ]
            )
            return report
        }
    }

    /// Checks one entry that a `SpoolEvent.unexpected` named and moves it to `.quarantine/` if
    /// it is still not a task file; nil when it is a task after all, or gone. The same checks as
    /// `recover()`, without listing every folder.
    public func quarantineIfHostile(named name: String, in state: TaskState) throws -> HostileEntry? {
        try translatingSystemErrors(subject: "spool") {
            var report = RecoveryReport()
            let entry = DirectoryEntry(rawName: Array(name.utf8).map { CChar(bitPattern: $0) }, type: 0)
            if name.isEmpty || name.contains("/") || entry.isHidden && !name.hasSuffix(".json") { return nil }
            _ = try recover(entry, in: state, into: &report)
            return report.quarantined.first
        }
    }

    /// What `checkEntry` found.
    public enum EntryCheck: Hashable, Sendable {
        /// A task file, or nothing there any more.
        case taskOrGone
        /// Not a task file: moved to `.quarantine/` (or left in place if that failed; logged).
        case quarantined(HostileEntry)
        /// A file that does not parse yet was written less than `unreadableEntryGrace` ago: a
        /// writer may still be writing it in place. Check it again later.
        case unreadableForNow(HostileEntry.Reason)
    }

    /// Checks entry `name` of `state` after the watcher saw it change, and moves it to
    /// `.quarantine/` if it is not a task file — at once for what can never become one (a
    /// symlink, a FIFO, a bad name, a file over the limit), and for a file that does not parse
    /// (empty, not JSON, not an object) once it has been left unchanged for
    /// `unreadableEntryGrace`. So an entry that is not a task is logged once, not at every
    /// heartbeat, and counted nowhere (`tasks`, `status`, the heartbeat, `active_tasks`).
    public func checkEntry(named name: String, in state: TaskState) throws -> EntryCheck {
        try translatingSystemErrors(subject: "spool") {
            var report = RecoveryReport()
            let entry = DirectoryEntry(rawName: Array(name.utf8).map { CChar(bitPattern: $0) }, type: 0)
            if name.isEmpty || name.contains("/") || entry.isHidden && !name.hasSuffix(".json") { return .taskOrGone }
            switch try recover(entry, in: state, into: &report, contentGrace: configuration.unreadableEntryGrace) {
            case .unreadableForNow(let reason): return .unreadableForNow(reason)
            case .task, .other: return report.quarantined.first.map(EntryCheck.quarantined) ?? .taskOrGone
            }
        }
    }

    /// The names in `state` that are not readable task files now (not cheap: every task file
    /// in the folder is read); hidden names and temp files are left out.
    public func entriesNotTasks(in state: TaskState) throws -> [String] {
        try translatingSystemErrors(subject: "spool") {
            var names: [String] = []
            for entry in try layout.directoryPath(state).entries() where !entry.isHidden || entry.name.hasSuffix(".json") {
                if DurableFile.isTemporary(entry) { continue }
                if let id = TaskID(fileName: entry.name),
                    case .task = try TaskFileReader.read(layout.filePath(id, state), limit: configuration.maxTaskBytes)
                {
                    continue
                }
                names.append(entry.name)
            }
            return names
        }
    }

    private enum EntryKind {
        case task, other
        case unreadableForNow(HostileEntry.Reason)
    }

    /// `contentGrace`: leave a file that does not parse alone while it is younger than this.
    /// `trustedBefore`: a regular file within the size limit that entered its folder before
    /// then is a task, unread (`recover(checkedBefore:)`).
    private func recover(
        _ entry: DirectoryEntry,
        in state: TaskState,
        into report: inout RecoveryReport,
        contentGrace: Duration? = nil,
        trustedBefore: timespec? = nil
    ) throws -> EntryKind {
        let directory = layout.directoryPath(state)
        let path = directory.appending(rawName: entry.rawName)
        if DurableFile.isTemporary(entry) {
            if try removeIfStale(path) { report.removedTemporaryFiles += 1 }
            return .other
        }
        // Other hidden names are not the spool's business, except `.x.json`: Python's
        // `Path.glob("*.json")`, which the runbook uses, does match hidden names.
        if entry.isHidden && !entry.name.hasSuffix(".json") { return .other }
        let reason: HostileEntry.Reason
        // `path` is the task's file (`layout.filePath`), built once: building a path is most of
        // this check's cost in a debug build, and it runs for every file at start.
        if TaskID(fileName: entry.name) != nil {
            if let trustedBefore, let info = try path.lstat(), HostileEntry.Reason(nonRegular: info) == nil,
                info.size <= configuration.maxTaskBytes,
                RecentArrivals.earlier(SpoolClock.enteredStateTime(info), trustedBefore)
            {
                return .task
            }
            switch try TaskFileReader.read(path, limit: configuration.maxTaskBytes) {
            case .task: return .task
            case .missing: return .other  // moved on while we looked
            case .hostile(let found):
                reason = found
                if let contentGrace, found.isContent, let info = try path.lstat(),
                    SpoolClock.age(of: SpoolClock.date(info.st_mtim), now: configuration.clock()) < contentGrace
                {
                    return .unreadableForNow(found)
                }
            }
        } else {
            // Classify by lstat only: a badly named FIFO is still never opened.
            guard let info = try path.lstat() else { return .other }
            reason = HostileEntry.Reason(nonRegular: info) ?? .invalidName
        }
        report.quarantined.append(quarantine(path, rawName: entry.rawName, state: state, reason: reason))
        return .other
    }

    /// Removes a temp file no write in flight can own: its writer's process (the pid in its
    /// name, `.<name>.tmp-<pid>-<random>`) is gone, or it is old; true if removed.
    private func removeIfStale(_ path: FilePath) throws -> Bool {
        guard let info = try path.lstat() else { return false }
        let young = SpoolClock.age(of: SpoolClock.date(info.st_mtim)) < configuration.staleTemporaryAge
        if young && Self.writerMayBeAlive(temporaryPath: "\(path)") { return false }
        let removed = try path.remove()
        if removed { logger.info("removed a leftover temp file", metadata: ["path": "\(path.printable)"]) }
        return removed
    }

    /// Whether the process named in a temp file's name may still be writing it.
    static func writerMayBeAlive(temporaryPath: String) -> Bool {
        guard let marker = temporaryPath.range(of: DurableFile.temporaryMarker, options: .backwards) else { return true }
        guard let pid = Int32(temporaryPath[marker.upperBound...].prefix { $0 != "-" }) else { return true }
        if pid == getpid() { return true }
        return kill(pid, 0) == 0 || errno == EPERM
    }

    /// Moves an entry to `.quarantine/<state>.<unix seconds>.<random>.<name>` by rename, which
    /// never follows or opens it. A failure is logged, not thrown: one bad entry must not stop
    /// the sidecar from starting.
    func quarantine(
        _ path: FilePath,
        rawName: [CChar],
        state: TaskState,
        reason: HostileEntry.Reason
    ) -> HostileEntry {
        let display = NameRule.escaped(
            String(decoding: rawName.map { UInt8(bitPattern: $0) }, as: UTF8.self),
            quoted: false
        )
        let seconds = Int64(SpoolClock.now().timeIntervalSince1970)
        let prefix = "\(state.folderName).\(seconds).\(String(UInt32.random(in: .min ... .max), radix: 16))."
        // Keep the whole name within NAME_MAX (255 bytes).
        let kept = Array(rawName.prefix(255 - prefix.utf8.count))
        let target = FilePath(layout.quarantineDirectory).appending(
            rawName: Array(prefix.utf8).map { CChar(bitPattern: $0) } + kept
        )
        var entry = HostileEntry(name: display, state: state, reason: reason, quarantinedPath: nil)
        do {
            try path.renameWithoutReplacing(to: target)
            try FilePath(layout.quarantineDirectory).syncDirectory()
            try layout.directoryPath(state).syncDirectory()
            entry.quarantinedPath = target.printable
            logger.warning(
                "quarantined a spool entry that is not a task",
                metadata: ["entry": "\(state)/\(display)", "reason": "\(reason)", "moved_to": "\(target.printable)"]
            )
        } catch {
            logger.error(
                "could not quarantine a spool entry that is not a task",
                metadata: ["entry": "\(state)/\(display)", "reason": "\(reason)", "error": "\(error)"]
            )
        }
        return entry
    }
}
