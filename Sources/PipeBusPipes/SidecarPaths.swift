#if canImport(Glibc)
import Glibc
#endif
import PipeBusCore
import PipeBusSystem
import SystemPackage

/// Where the sidecars of one worker keep their files under the shared root (DESIGN §2, §6):
/// `<root>/workers/<worker>/…`, as `RootLayout` builds the paths, and the instances found there.
///
/// A worker scaled out (`docker-compose scale marie=2`) runs one sidecar per instance; the
/// instances share the worker's spool and heartbeat file, and nothing else.
public struct SidecarPaths: Hashable, Sendable {
    public let root: String
    public let worker: String

    public init(root: String, worker: String) {
        self.root = root
        self.worker = worker
    }

    private var layout: RootLayout { RootLayout(root: root) }

    /// `<root>/workers/<worker>`.
    public var workerDirectory: String { layout.workerDirectory(worker: worker) }
    /// The worker's heartbeat, written by whichever instance beat last (the runbook reads it).
    public var heartbeatPath: String { layout.heartbeatPath(worker: worker) }
    public var instancesDirectory: String { layout.instancesDirectory(worker: worker) }

    public func instanceDirectory(_ instance: String) -> String { layout.instanceDirectory(worker: worker, instance: instance) }
    public func pipeDirectory(instance: String) -> PipeDirectory {
        PipeDirectory(path: layout.pipesDirectory(worker: worker, instance: instance))
    }
    public func heartbeatPath(instance: String) -> String { layout.heartbeatPath(worker: worker, instance: instance) }
    public func lockPath(instance: String) -> String { layout.instanceLockPath(worker: worker, instance: instance) }
    public func leaseDirectory(instance: String) -> String { layout.leaseDirectory(worker: worker, instance: instance) }
    /// The supervised worker's pid and start time, so that the next sidecar of the instance can
    /// stop a worker its killed predecessor left running.
    public func workerRecordPath(instance: String) -> String { layout.workerRecordPath(worker: worker, instance: instance) }

    /// The instances that have run here (a directory under `instances/`), sorted.
    public func instances() -> [String] {
        guard let directory = opendir(instancesDirectory) else { return [] }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = String(cString: entry.name)
            if NameRule.component.accepts(name) { names.append(name) }
        }
        return names.sorted()
    }

    /// The instances whose sidecar is listening now, sorted.
    public func servingInstances() -> [String] {
        instances().filter { pipeDirectory(instance: $0).isServing }
    }

    /// The host's short name made into a valid instance name (`web-1.example.com` → `web-1`),
    /// so the same command line in two containers gives two instances; `local` if there is none.
    public static var defaultInstance: String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "local" }
        let host = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let short = host.split(separator: ".", maxSplits: 1).first.map(String.init) ?? ""
        let cleaned = String(
            short.unicodeScalars.prefix(64).map { scalar -> Character in
                NameRule.component.accepts(String(scalar)) ? Character(scalar) : "-"
            }
        )
        return cleaned.isEmpty ? "local" : cleaned
    }
}

extension PipeDirectory {
    /// Whether a server is listening here: its connect FIFO has a reader (the server holds it
    /// open for as long as it runs), probed with a non-blocking open that writes nothing.
    public var isServing: Bool {
        guard let fd = try? FilePath(connectFIFO).open(.writeOnly, options: [.noFollow, .closeOnExec, .nonBlocking]) else { return false }
        defer { fd.closeIgnoringErrors() }
        guard let info = try? fd.stat(path: nil) else { return false }
        return info.type == .fifo && info.userID == effectiveUserID
    }
}
