#if canImport(Glibc)
import Glibc
#endif
import Foundation
import PipeBusCore
import PipeBusTasks
import PipeBusSystem
import SystemPackage
import PipeBusHealth

/// Health, status and the heartbeat file.
extension Sidecar {
    /// SERVING only when the spool is writable, the supervised worker (if any) is alive and,
    /// for pipe workers, one is leasing; NOT_SERVING otherwise, with the reason.
    func evaluateHealth() {
        let (spoolError, leaseCount, stopping) = state.withLock { ($0.spoolError, $0.leaseCount, $0.stopping) }
        var reasons: [String] = []
        if stopping { reasons.append("sidecar is shutting down") }
        if let probeError = probeSpool() {
            reasons.append("spool is not writable: \(probeError.message)")
        } else if let spoolError {
            // The probe succeeded again: the spool has recovered.
            _ = spoolError
            state.withLock { $0.spoolError = nil }
        }
        if let supervisor = supervisorIfAny, !supervisor.isAlive {
            reasons.append("worker \(supervisor.exit.map { "\($0)" } ?? (supervisor.isStopped ? "is stopped (SIGSTOP)" : "is not running"))")
        }
        let graceOver = startedAtInstant.duration(to: .now) > configuration.heartbeatInterval * 3
        if configuration.mode == .pipe, leaseCount == 0, graceOver {
            reasons.append("no pipe worker is leasing tasks")
        }
        metrics.serving(reasons.isEmpty)
        if reasons.isEmpty {
            health.setStatus(.serving)
            health.setStatus(.serving, for: Pipebus_Tasks_V1_Tasks.serviceName)
        } else {
            let message = reasons.joined(separator: "; ")
            health.setStatus(.notServing, message: message)
            health.setStatus(.notServing, message: message, for: Pipebus_Tasks_V1_Tasks.serviceName)
        }
    }

    /// Writes, syncs and removes a small file in pending/: disk full or a read-only spool shows
    /// here even when no task is being submitted.
    private func probeSpool() -> RPCError? {
        let path = FilePath("\(spool.layout.directory(for: .pending))/.pipebus-probe-\(getpid())")
        do {
            let fd = try path.open(.writeOnly, options: [.create, .truncate, .closeOnExec, .noFollow], permissions: .ownerReadWrite)
            defer {
                fd.closeIgnoringErrors()
                path.removeIfPresent()
            }
            try fd.writeAll([UInt8](repeating: 0x20, count: 512), path: path)
            try fd.sync(path: path)
            return nil
        } catch let error as SystemCallError {
            return error.rpcError()
        } catch {
            return RPCError(code: .unavailable, message: "\(error)")
        }
    }

    /// What `pipebus status` shows and heartbeats carry. Costs the same whatever the spool
    /// holds: the counts are the watcher's (`SpoolCensus`), the oldest active task is the
    /// earliest of the times this sidecar saw tasks enter `active/`; no folder is listed.
    func currentStatus() -> Pipebus_Tasks_V1_WorkerStatus {
        var counts = spoolCounts()
        let (unreadable, oldest) = state.withLock { runtime in
            (runtime.unreadableEntries, runtime.activeSince.min { ($0.value, $0.key) < ($1.value, $1.key) })
        }
        // Names that are not readable tasks yet (an empty file): moved aside once they are clearly
        // not being written, and counted nowhere meanwhile.
        for entry in unreadable where TaskID(fileName: entry.name) != nil {
            counts[entry.state] = max(0, counts[entry.state] - 1)
        }
        let now = Date()
        let (seq, last, failures, leaseCount) = state.withLock { runtime in
            (runtime.heartbeatSeq, runtime.lastHeartbeat, runtime.failures(before: now), runtime.leaseCount)
        }
        let health = self.health.status() ?? Pipebus_Health_V1_HealthCheckResponse(status: .unknown)
        let p95 = transport.writeLatency.snapshot().quantileNanoseconds(0.95).map { $0 / 1e9 } ?? 0
        return Pipebus_Tasks_V1_WorkerStatus(
            worker: configuration.worker,
            instance: configuration.instance,
            pid: UInt32(getpid()),
            workerPid: UInt32(clamping: supervisorIfAny?.pid ?? 0),
            workerAlive: supervisorIfAny?.isAlive ?? true,
            health: UInt32(clamping: health.status.rawValue),
            healthMessage: health.message,
            pending: UInt32(clamping: counts.pending),
            active: UInt32(clamping: counts.active),
            completed: UInt32(clamping: counts.completed),
            failed: UInt32(clamping: counts.failed),
            oldestActiveID: oldest?.key.rawValue ?? "",
            oldestActiveAgeMs: oldest.map { UInt64(max(0, SpoolClock.age(of: $0.value, now: spool.configuration.clock()) / .milliseconds(1))) } ?? 0,
            failuresLast5M: UInt32(failures),
            p95WriteLatencySeconds: p95,
            heartbeatSeq: seq,
            heartbeatAtMs: last.map { Int64($0.timeIntervalSince1970 * 1000) } ?? 0,
            batchSize: UInt32(config.batchSize),
            leases: UInt32(max(0, leaseCount)),
            heartbeatIntervalSeconds: Double(configuration.heartbeatInterval.components.seconds)
                + Double(configuration.heartbeatInterval.components.attoseconds) / 1e18
        )
    }

    /// The task files in each state folder, as the watcher counted them; listed only before the
    /// watcher starts (at start-up).
    func spoolCounts() -> SpoolCensus.Counts {
        if let census = state.withLock({ $0.watcher?.census }) { return census.counts }
        var counts = SpoolCensus.Counts()
        for (state, count) in (try? spool.counts()) ?? [:] { counts[state] = count }
        return counts
    }

    /// Replaces this instance's `heartbeat.json` and the worker's atomically, and puts the
    /// same heartbeat on the event stream.
    func writeHeartbeat() {
        let now = Date()
        let seq = state.withLock { runtime -> UInt64 in
            runtime.heartbeatSeq += 1
            runtime.lastHeartbeat = now
            return runtime.heartbeatSeq
        }
        var status = currentStatus()
        status.heartbeatSeq = seq
        status.heartbeatAtMs = Int64(now.timeIntervalSince1970 * 1000)
        // Worker-wide figures from the leader alone, so that summing over instances is right.
        let leader = isLeader
        metrics.setQueueDepth(leader ? Int(status.pending) : 0)
        metrics.setActiveTasks(leader ? Int(status.active) : 0)
        metrics.heartbeat(at: now)
        metrics.oldestActiveTaskAge(seconds: Double(status.oldestActiveAgeMs) / 1000)
        var file = HeartbeatFile(
            timestamp: now,
            seq: seq,
            pid: Int(status.pid),
            worker: status.worker,
            instance: status.instance,
            workerPID: Int(status.workerPid),
            workerAlive: status.workerAlive,
            health: "\(Pipebus_Health_V1_HealthCheckResponse.ServingStatus(rawValue: Int(status.health)))",
            healthMessage: status.healthMessage,
            intervalSeconds: status.heartbeatIntervalSeconds,
            counts: HeartbeatFile.Counts(pending: status.pending, active: status.active, completed: status.completed, failed: status.failed),
            leases: status.leases,
            batchSize: status.batchSize
        )
        // Where `pipebus diagnose` reads this sidecar's counters (pipe and Claude errors).
        if let port = metricsPort, let address = configuration.metricsAddress, let (host, _) = try? Self.parse(address: address) {
            file.metricsAddress = "\(host == "0.0.0.0" || host == "::" || host.isEmpty ? "127.0.0.1" : host):\(port)"
        }
        writeHeartbeatFile(file, to: heartbeatPath)
        writeWorkerHeartbeat(file)
        events.append(Pipebus_Tasks_V1_Event(timestampMs: status.heartbeatAtMs, kind: .heartbeat, status: status))
    }

    /// The worker's file: any live instance keeps it fresh; its seq only increases, whichever
    /// instance writes it, because each write takes the last one's seq under a lock.
    private func writeWorkerHeartbeat(_ file: HeartbeatFile) {
        do {
            guard let lock = try FileLock.acquire(RootLayout(root: configuration.root).heartbeatLockPath(worker: configuration.worker), patience: .seconds(1)) else {
                logger.warning("the worker's heartbeat lock stayed taken; skipped a beat", metadata: ["path": "\(workerHeartbeatPath)"])
                return
            }
            defer { lock.release() }
            var file = file
            file.seq = Self.lastHeartbeatSeq(at: workerHeartbeatPath) + 1
            writeHeartbeatFile(file, to: workerHeartbeatPath)
        } catch {
            logger.error("cannot lock the worker's heartbeat", metadata: ["error": "\(error)"])
        }
    }

    private func writeHeartbeatFile(_ heartbeat: HeartbeatFile, to path: String) {
        do {
            try SmallFile.replace(path, with: heartbeat.encoded())
        } catch {
            logger.error("cannot write the heartbeat", metadata: ["path": "\(path)", "error": "\(error)"])
        }
    }

    /// The last heartbeat's seq, so that seq keeps increasing across restarts.
    static func lastHeartbeatSeq(at path: String) -> UInt64 {
        guard let bytes = try? SmallFile.read(path), let heartbeat = try? HeartbeatFile(json: Data(bytes)) else { return 0 }
        return heartbeat.seq
    }
}
