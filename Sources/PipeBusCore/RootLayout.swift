/// Every path under the shared root (DESIGN §2), built in this one place:
///
///     <root>/tasks/<worker>/{pending,active,completed,failed}/<task id>.json   the spool
///     <root>/tasks/<worker>/.quarantine/                      entries that are not tasks
///     <root>/workers/<worker>/heartbeat.json                  the worker's heartbeat (any instance)
///     <root>/workers/<worker>/retired.json                    `pipebus retire`
///     <root>/workers/<worker>/leader.lock, .heartbeat.lock, reported/
///     <root>/workers/<worker>/instances/<id>/pipes/           one instance's FIFOs and server lock
///     <root>/workers/<worker>/instances/<id>/heartbeat.json, instance.lock, leases/, worker.json, retired.json
///     <root>/config/<worker>.json                             the worker's config
///     <root>/incidents/                                       `pipebus incident`, the runbook's heredoc
///
/// Plain strings, no file system access: the spool, the sidecar, the pipe transport, the client
/// and the CLI all build their paths here. In Core because the pipe transport finds a sidecar's
/// pipes by it and does not depend on the task module. Names are not checked here
/// (`NameRule.component` is, where a name comes in).
public struct RootLayout: Hashable, Sendable {
    public let root: String

    public init(root: String) {
        self.root = root
    }

    // MARK: The spool

    /// `<root>/tasks`.
    public var tasksDirectory: String { "\(root)/tasks" }
    /// `<root>/tasks/<worker>`: the worker's spool, holding its state folders.
    public func spoolDirectory(worker: String) -> String { "\(tasksDirectory)/\(worker)" }
    /// `<root>/tasks/<worker>/<folder>`, `folder` being a state's folder name (`TaskState.folderName`).
    public func stateDirectory(worker: String, folder: String) -> String { "\(spoolDirectory(worker: worker))/\(folder)" }
    /// Where hostile entries are moved; hidden, so no state folder glob and no watcher sees it.
    public func quarantineDirectory(worker: String) -> String { "\(spoolDirectory(worker: worker))/.quarantine" }

    /// Where finished tasks past retention go: one LZ4-framed JSON-lines segment per day,
    /// beside the state folders (never in one, so no runbook glob or watcher sees it).
    public func archiveDirectory(worker: String) -> String { "\(spoolDirectory(worker: worker))/archive" }
    /// A task's file name in a state folder: `<id>.json`.
    public static func taskFileName(id: String) -> String { "\(id).json" }

    // MARK: The sidecars

    /// `<root>/workers`.
    public var workersDirectory: String { "\(root)/workers" }
    /// `<root>/workers/<worker>`.
    public func workerDirectory(worker: String) -> String { "\(workersDirectory)/\(worker)" }
    /// The worker's heartbeat, written by whichever instance beat last (the runbook reads it).
    public func heartbeatPath(worker: String) -> String { "\(workerDirectory(worker: worker))/heartbeat.json" }
    /// Held by the instance that reports the worker-wide figures.
    public func leaderLockPath(worker: String) -> String { "\(workerDirectory(worker: worker))/leader.lock" }
    /// Taken around a write of the worker's heartbeat, so its `seq` only increases.
    public func heartbeatLockPath(worker: String) -> String { "\(workerDirectory(worker: worker))/.heartbeat.lock" }
    /// The transitions already reported by one of the worker's instances.
    public func reportedDirectory(worker: String) -> String { "\(workerDirectory(worker: worker))/reported" }
    /// `<root>/workers/<worker>/instances`.
    public func instancesDirectory(worker: String) -> String { "\(workerDirectory(worker: worker))/instances" }
    /// `<root>/workers/<worker>/instances/<instance>`.
    public func instanceDirectory(worker: String, instance: String) -> String {
        "\(instancesDirectory(worker: worker))/\(instance)"
    }
    /// The instance's FIFOs and server lock.
    public func pipesDirectory(worker: String, instance: String) -> String {
        "\(instanceDirectory(worker: worker, instance: instance))/pipes"
    }
    public func heartbeatPath(worker: String, instance: String) -> String {
        "\(instanceDirectory(worker: worker, instance: instance))/heartbeat.json"
    }
    /// Held by the instance while it runs.
    public func instanceLockPath(worker: String, instance: String) -> String {
        "\(instanceDirectory(worker: worker, instance: instance))/instance.lock"
    }
    /// The tasks the instance has leased.
    public func leaseDirectory(worker: String, instance: String) -> String {
        "\(instanceDirectory(worker: worker, instance: instance))/leases"
    }
    /// The supervised worker's pid and start time, so that the next sidecar of the instance can
    /// stop a worker its killed predecessor left running.
    public func workerRecordPath(worker: String, instance: String) -> String {
        "\(instanceDirectory(worker: worker, instance: instance))/worker.json"
    }
    /// `pipebus retire`'s marker: the worker's, or one instance's.
    public func retirementPath(worker: String, instance: String? = nil) -> String {
        "\(instance.map { instanceDirectory(worker: worker, instance: $0) } ?? workerDirectory(worker: worker))/retired.json"
    }

    // MARK: The runbook's files

    /// `<root>/config/<worker>.json`, e.g. `{"batch_size": 10}`.
    public func configPath(worker: String) -> String { "\(root)/config/\(worker).json" }
    /// `<root>/incidents`, where incident reports go.
    public var incidentsDirectory: String { "\(root)/incidents" }
}
