#if canImport(Glibc)
import Glibc
#endif
import PipeBusCore
import PipeBusSystem
import SystemPackage

/// Where the sidecars of one worker keep their files under the shared root (DESIGN §2, §6):
///
///     <root>/workers/<worker>/heartbeat.json               the worker's heartbeat (any instance)
///     <root>/workers/<worker>/instances/<id>/pipes/        one instance's FIFOs and server lock
///     <root>/workers/<worker>/instances/<id>/heartbeat.json
///     <root>/workers/<worker>/instances/<id>/instance.lock  held by the instance while it runs
///     <root>/workers/<worker>/instances/<id>/leases/       tasks that instance has leased
///     <root>/workers/<worker>/instances/<id>/worker.json   the worker it supervises, while it runs
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

    /// `<root>/workers/<worker>`.
    public var workerDirectory: String { "\(root)/workers/\(worker)" }
    /// The worker's heartbeat, written by whichever instance beat last (the runbook reads it).
    public var heartbeatPath: String { "\(workerDirectory)/heartbeat.json" }
    public var instancesDirectory: String { "\(workerDirectory)/instances" }

    public func instanceDirectory(_ instance: String) -> String { "\(instancesDirectory)/\(instance)" }
    public func pipeDirectory(instance: String) -> PipeDirectory { PipeDirectory(path: "\(instanceDirectory(instance))/pipes") }
    public func heartbeatPath(instance: String) -> String { "\(instanceDirectory(instance))/heartbeat.json" }
    public func lockPath(instance: String) -> String { "\(instanceDirectory(instance))/instance.lock" }
    public func leaseDirectory(instance: String) -> String { "\(instanceDirectory(instance))/leases" }
    /// The supervised worker's pid and start time, so that the next sidecar of the instance can
    /// stop a worker its killed predecessor left running.
    public func workerRecordPath(instance: String) -> String { "\(instanceDirectory(instance))/worker.json" }

    /// The instances that have run here (a directory under `instances/`), sorted.
    public func instances() -> [String] {
        guard let directory = opendir(instancesDirectory) else { return [] }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if Self.problem(withName: name) == nil { names.append(name) }
        }
        return names.sorted()
    }

    /// The instances whose sidecar is listening now, sorted.
    public func servingInstances() -> [String] {
        instances().filter { pipeDirectory(instance: $0).isServing }
    }

    /// Why `name` cannot be a worker or instance name (one path component of letters, digits,
    /// `_` and `-`, at most 64 bytes), or nil when it can.
    public static func problem(withName name: String) -> String? {
        if name.isEmpty { return "it is empty" }
        if name.utf8.count > 64 { return "it is longer than 64 bytes" }
        let allowed = name.utf8.allSatisfy { byte in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
        }
        return allowed ? nil : "only letters, digits, _ and - are allowed"
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
                problem(withName: String(scalar)) == nil ? Character(scalar) : "-"
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
