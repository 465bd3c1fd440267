import Foundation
import PipeBusTestSupport

#if canImport(Glibc)
import Glibc
#endif

extension Integration {
    /// A fresh shared root (DESIGN §1) under /tmp, and what the tests read in it.
    struct Root: Sendable {
        let path: String
        let worker: String

        /// Creates `/tmp/pipebus-it-XXXXXX`.
        static func make(worker: String = "marie") throws -> Root {
            Root(path: try TemporaryDirectory(prefix: "pipebus-it").path, worker: worker)
        }

        /// Deletes the root, unless PIPEBUS_KEEP_TEST_ROOTS is set (to look at a failure).
        func remove() {
            TemporaryDirectory.remove(path)
        }

        static let states = ["pending", "active", "completed", "failed"]

        var tasksDirectory: String { "\(path)/tasks/\(worker)" }
        func folder(_ state: String) -> String { "\(tasksDirectory)/\(state)" }
        func taskPath(_ id: String, _ state: String) -> String { "\(folder(state))/\(id).json" }
        var quarantine: String { "\(tasksDirectory)/.quarantine" }
        var workerDirectory: String { "\(path)/workers/\(worker)" }
        var heartbeatPath: String { "\(workerDirectory)/heartbeat.json" }
        var configPath: String { "\(path)/config/\(worker).json" }

        /// Every name in a folder, hidden ones included.
        func names(in directory: String) -> [String] {
            ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted()
        }

        /// The task ids in a state folder (`*.json`, not hidden).
        func taskIDs(_ state: String) -> [String] {
            names(in: folder(state)).filter { !$0.hasPrefix(".") && $0.hasSuffix(".json") }.map { String($0.dropLast(5)) }
        }

        /// Where each task id is, folder by folder (an id in two folders shows twice).
        func locations() -> [String: [String]] {
            var found: [String: [String]] = [:]
            for state in Self.states {
                for id in taskIDs(state) { found[id, default: []].append(state) }
            }
            return found
        }

        /// The folder task `id` is in, if exactly one.
        func state(of id: String) -> String? {
            let states = Self.states.filter { Integration.lstatKind(taskPath(id, $0)) != nil }
            return states.count == 1 ? states[0] : nil
        }

        /// The task file as a JSON object.
        func object(_ id: String, _ state: String) throws -> [String: Any] {
            try Integration.jsonObject(atPath: taskPath(id, state))
        }

        /// The worker's heartbeat file, or one instance's, if there is one.
        func heartbeat(instance: String? = nil) -> [String: Any]? {
            try? Integration.jsonObject(atPath: instance.map { instanceHeartbeatPath($0) } ?? heartbeatPath)
        }

        func instanceHeartbeatPath(_ instance: String) -> String { "\(workerDirectory)/instances/\(instance)/heartbeat.json" }

        /// Writes `text` to `path` plainly (as a person or a script would), creating folders.
        func write(_ text: String, to path: String) throws {
            try FileManager.default.createDirectory(
                atPath: (path as NSString).deletingLastPathComponent,
                withIntermediateDirectories: true
            )
            try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        }
    }

    static func jsonObject(atPath path: String) throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw Failure("\(path) is not a JSON object")
        }
        return object
    }

    /// The file type by `lstat` (`S_IFREG`, `S_IFLNK`, …), nil when there is nothing.
    static func lstatKind(_ path: String) -> mode_t? {
        var info = stat()
        guard lstat(path, &info) == 0 else { return nil }
        return info.st_mode & S_IFMT
    }

    /// Every path under `directory` (recursively) whose last component contains `.tmp-`.
    static func temporaryFiles(under directory: String) -> [String] {
        guard let enumerator = FileManager.default.enumerator(atPath: directory) else { return [] }
        var found: [String] = []
        while let relative = enumerator.nextObject() as? String {
            let name = (relative as NSString).lastPathComponent
            if name.hasPrefix("."), name.contains(".tmp-") { found.append(relative) }
        }
        return found.sorted()
    }
}

extension Integration.Root {
    /// Moves a task between state folders with one rename(2), as a spool worker does.
    func move(_ id: String, from: String, to: String) throws {
        guard rename(taskPath(id, from), taskPath(id, to)) == 0 else {
            throw Integration.Failure("rename \(id) \(from) → \(to): errno \(errno)")
        }
    }
}
