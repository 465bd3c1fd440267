#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Logging
import PipeBusCore
import Synchronization
import PipeBusSystem
import SystemPackage

/// The worker config, `<root>/config/<worker>.json` (e.g. `{"batch_size": 10}`): re-read when
/// the file changes, no restart; a bad file is logged and ignored, the previous config kept.
/// The keys it applies and their defaults are `WorkerConfig`'s.
final class WorkerConfigStore: Sendable {
    private struct State {
        var json: [UInt8] = Array("{}".utf8)
        var batchSize = WorkerConfig.batchSize.defaultValue
        var retention = WorkerConfig.retention(in: [:])
        var fingerprint: [Int64] = []
    }

    let path: String
    private let logger: Logger
    private let state = Mutex(State())

    init(root: String, worker: String, logger: Logger) {
        self.path = WorkerConfig.path(root: root, worker: worker)
        self.logger = logger
    }

    /// `batch_size`: at most this many tasks in flight per lease (≥ 1).
    var batchSize: Int { state.withLock { $0.batchSize } }

    /// The retention limits of `completed/` and `failed/`.
    var retention: RetentionPolicy { state.withLock { $0.retention } }

    /// The config as JSON.
    var json: [UInt8] { state.withLock { $0.json } }

    /// Re-reads the file if it changed since the last look; true when the config changed.
    @discardableResult
    func reload() -> Bool {
        var info = stat()
        let fingerprint: [Int64] = lstat(path, &info) == 0
            ? [Int64(info.st_ino), Int64(info.st_size), Int64(info.st_mtim.tv_sec), Int64(info.st_mtim.tv_nsec)]
            : []
        guard state.withLock({ $0.fingerprint != fingerprint }) else { return false }
        defer { state.withLock { $0.fingerprint = fingerprint } }
        guard !fingerprint.isEmpty else { return false }  // no file: keep what we have (defaults at first)
        do {
            guard let bytes = try SmallFile.read(path, limit: 64 * 1024) else { return false }
            let object = try Self.parse(bytes)
            state.withLock { state in
                state.json = bytes
                state.batchSize = WorkerConfig.batchSize.value(in: object)
                state.retention = WorkerConfig.retention(in: object)
            }
            logger.info("worker config loaded", metadata: ["path": "\(path)", "batch_size": "\(batchSize)"])
            return true
        } catch {
            logger.error("worker config ignored; keeping the previous one", metadata: ["path": "\(path)", "error": "\(error)"])
            return false
        }
    }

    /// Writes the file with every key at its default when there is none (a fresh root), so
    /// that the runbook's batch-size snippet finds it; never replaces an existing file, even
    /// one another instance writes at the same moment. True when this call created it.
    @discardableResult
    func createWithDefaults() throws -> Bool {
        let directory = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        do {
            try DurableFile.write(
                WorkerConfig.defaultFileContent,
                directory: FilePath(directory),
                name: (path as NSString).lastPathComponent,
                placement: .create
            )
            return true
        } catch let error as SystemCallError where error.errno == .fileExists {
            return false
        } catch let error as SystemCallError {
            throw error.rpcError(subject: "spool")
        }
    }

    /// Merges `update` (a JSON object) into the config and writes the file durably.
    func merge(_ update: [UInt8]) throws -> [UInt8] {
        let changes = update.isEmpty ? [:] : try Self.parse(update)
        guard !changes.isEmpty else { return json }
        var merged = try Self.parse(json)
        for (key, value) in changes { merged[key] = value }
        let data = try JSONSerialization.data(withJSONObject: merged, options: [.sortedKeys, .prettyPrinted])
        let directory = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try SmallFile.replace(path, with: Array(data))
        reload()
        return json
    }

    private static func parse(_ bytes: [UInt8]) throws -> [String: Any] {
        let value: Any
        do {
            value = try JSONSerialization.jsonObject(with: Data(bytes))
        } catch {
            throw RPCError(code: .invalidArgument, message: "worker config is not valid JSON: \(error.localizedDescription)")
        }
        guard let object = value as? [String: Any] else {
            throw RPCError(code: .invalidArgument, message: "worker config must be a JSON object")
        }
        if let problem = WorkerConfig.problems(in: object).first {
            throw RPCError(code: .invalidArgument, message: problem)
        }
        return object
    }
}
