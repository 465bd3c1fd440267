import Foundation
import PipeBusCore
import PipeBusTasks
import Synchronization

#if canImport(Glibc)
import Glibc
#endif
import PipeBusSystem
import SystemPackage

/// Appends batches of tasks to the archive's segments, durably (`TaskArchive`).
///
/// A SIGKILL can land between a batch's append and the unlink of its files: the tasks are then in
/// the segment's last frame *and* in their hot folder. The first append to a segment in a run
/// reads the segment once: it cuts off a frame left half-written at its end (the kill landed in
/// the append), and remembers the last frame's tasks, so that those found again in the hot
/// folder are not appended a second time, only unlinked.
final class TaskArchiveWriter: Sendable {
    let archive: TaskArchive
    /// Per segment appended to in this run: the tasks of its last frame, their bytes by state and
    /// id (compared as objects, and only for a task met again: most never are).
    private let lastFrames = Mutex<[String: [Name: [UInt8]]]>([:])

    struct Name: Hashable {
        var state: TaskState
        var id: TaskID
    }

    /// A task as a segment gives it back (its object re-encoded): what a reader dedups on.
    struct Key: Hashable {
        var state: TaskState
        var id: TaskID
        var json: [UInt8]
    }

    init(archive: TaskArchive) {
        self.archive = archive
    }

    /// Appends `tasks` (all of one segment) as one frame and fsyncs it; a task the segment's last
    /// frame holds already is not appended again. Returns once every task is durably archived.
    /// `repaired` hears of a cut-off frame removed from the segment's end.
    func append(_ tasks: [TaskArchive.Task], to name: String, repaired: (String) -> Void = { _ in }) throws {
        try translatingSystemErrors(subject: "archive") {
            try archive.directory.makeDirectory(permissions: [.ownerReadWriteExecute, .groupReadExecute, .otherReadExecute])
            let path = archive.directory.appending(name)
            let known = try lastFrames.withLock { $0[name] } ?? open(path, repaired: repaired)
            let fresh = tasks.filter { task in
                known[Name(state: task.state, id: task.id)].map { TaskArchive.canonical($0) != TaskArchive.canonical(task.json) } ?? true
            }
            guard !fresh.isEmpty else { return }
            let frame = try LZ4Frame.compress(fresh.flatMap(TaskArchive.line(for:)))
            let existed = try path.lstat() != nil
            let fd = try path.open(.writeOnly, options: [.create, .append, .noFollow, .closeOnExec], permissions: [.ownerReadWrite, .groupRead, .otherRead])
            try fd.writeAllSyncAndClose(frame, path: path)
            if !existed { try archive.directory.syncDirectory() }
            lastFrames.withLock { $0[name] = Dictionary(fresh.map { (Name(state: $0.state, id: $0.id), $0.json) }) { $1 } }
        }
    }

    /// Reads segment `path` for the first append of this run: cuts a half-written frame off its
    /// end, and returns the tasks of its last whole frame.
    private func open(_ path: FilePath, repaired: (String) -> Void) throws -> [Name: [UInt8]] {
        guard try path.lstat() != nil else { return [:] }
        let name = path.lastComponent?.string ?? ""
        let fd = try path.open(.readWrite, options: .untrusted)
        defer { fd.closeIgnoringErrors() }
        let info = try fd.stat(path: path)
        let bytes = try fd.readAll(limit: Int.max - 1, expectedSize: Int(info.size), path: path)
        let (frames, damage) = LZ4Frame.frames(in: bytes)
        if let last = damage.last, last.truncated, last.offset >= (frames.last?.end ?? 0) {
            try fd.truncate(to: Int64(last.offset), path: path)
            try fd.sync(path: path)
            repaired("archive segment \(name): removed \(bytes.count - last.offset) bytes of a frame cut short at its end (an append interrupted by a crash; its tasks were still in their folders)")
        }
        guard let frame = frames.last else { return [:] }
        let segment = TaskArchive.decode(Array(bytes[frame.start..<frame.end]), name: name)
        let known = Dictionary(segment.tasks.map { (Name(state: $0.state, id: $0.id), $0.json) }) { $1 }
        lastFrames.withLock { $0[name] = known }
        return known
    }
}
