import Foundation
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// The supervised worker of one instance, as its sidecar leaves it for the next run:
/// `<instance>/worker.json` names the worker process (pid, start time, boot), written when the
/// worker starts and removed once it has exited.
///
/// A sidecar that is killed (SIGKILL, OOM) cannot stop its worker. The kernel kills the worker
/// then (PR_SET_PDEATHSIG, see `WorkerSupervisor.deathSignal`), but not the worker's own
/// children, which stay in its process group. So the next sidecar of the instance, holding the
/// instance lock, stops whatever is left of that group before anything else: SIGTERM, the stop
/// grace, then SIGKILL; and it logs what it did.
struct WorkerRecord: Sendable {
    let path: String

    func write(_ worker: ProcessIdentity) throws {
        let object: [String: Any] = ["pid": Int(worker.pid), "start_ticks": worker.startTicks, "boot_id": worker.bootID]
        let bytes = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        try SmallFile.replace(path, with: Array(bytes) + [UInt8(ascii: "\n")])
    }

    func read() -> ProcessIdentity? {
        guard let bytes = try? SmallFile.read(path),
            let object = (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any],
            let pid = object["pid"] as? Int, let startTicks = (object["start_ticks"] as? NSNumber)?.uint64Value,
            let bootID = object["boot_id"] as? String
        else { return nil }
        return ProcessIdentity(pid: Int32(truncatingIfNeeded: pid), startTicks: startTicks, bootID: bootID)
    }

    func remove() {
        unlink(path)
    }

    /// The live members of the recorded worker's process group (the worker leads it), or none
    /// when the record names another boot, or its pid is now another process's.
    func survivors(of worker: ProcessIdentity, in files: ProcFiles = ProcFiles(root: "/proc")) -> [Int32] {
        guard worker.bootID == ProcessIdentity.currentBootID else { return [] }
        if let leader = ProcessIdentity.of(worker.pid, in: files), leader.identity.startTicks != worker.startTicks {
            return []
        }
        var buffer: [UInt8] = []
        return files.processIDs().filter { pid in
            guard let bytes = files.contents(of: "\(pid)/stat", into: &buffer), let stat = ProcParser.processStat(bytes) else {
                return false
            }
            // Started no earlier than the worker: the group's members are the worker's offspring.
            return stat.processGroup == worker.pid && !stat.hasEnded && stat.startTicks >= worker.startTicks
        }
    }

    /// Stops what is left of the worker a previous run recorded, then forgets the record.
    /// Returns the pids that were still running. Blocks for at most `grace` plus 2 seconds.
    @discardableResult
    func stopLeftover(grace: Duration, logger: Logger) -> [Int32] {
        guard let worker = read() else {
            remove()
            return []
        }
        let found = survivors(of: worker)
        defer { remove() }
        guard !found.isEmpty else { return [] }
        let group = worker.pid
        logger.warning(
            "the worker of this instance's previous sidecar is still running; stopping its process group",
            metadata: ["worker_pid": "\(group)", "pids": "\(found.map(String.init).joined(separator: ","))"]
        )
        _ = kill(-group, SIGTERM)
        _ = kill(-group, SIGCONT)  // a stopped process handles SIGTERM only once continued
        if waitUntilGone(worker, within: grace) { return found }
        logger.warning("the previous worker did not exit after SIGTERM; sending SIGKILL", metadata: ["worker_pid": "\(group)"])
        _ = kill(-group, SIGKILL)
        if !waitUntilGone(worker, within: .seconds(2)) {
            logger.error(
                "the previous worker's processes survive SIGKILL (uninterruptible?); starting anyway",
                metadata: ["worker_pid": "\(group)", "pids": "\(survivors(of: worker).map(String.init).joined(separator: ","))"]
            )
        }
        return found
    }

    private func waitUntilGone(_ worker: ProcessIdentity, within limit: Duration) -> Bool {
        let giveUp = ContinuousClock.now + limit
        while true {
            if survivors(of: worker).isEmpty { return true }
            if ContinuousClock.now >= giveUp { return false }
            usleep(20_000)
        }
    }
}
