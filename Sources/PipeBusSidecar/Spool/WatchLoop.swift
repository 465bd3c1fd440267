import Logging
import PipeBusTasks

#if canImport(Glibc)
import Glibc
#endif
import PipeBusSystem
import SystemPackage

/// The bodies of `SpoolWatcher`'s two threads: one reads the inotify descriptor into an
/// `InotifyBacklog`, the other translates the records and calls the handler.
struct WatchLoop: Sendable {
    let inotifyFD: FileDescriptor
    let wakeFD: FileDescriptor
    let folders: [Int32: TaskState]
    let layout: SpoolLayout
    let known: [TaskState: TaskNameSet]
    /// Where the folder counts are published after each record, for heartbeats and `/metrics`.
    let census: SpoolCensus
    let logger: Logger
    let handler: @Sendable (SpoolEvent, UInt32) -> Void

    /// Milliseconds an IN_MOVED_FROM waits for its IN_MOVED_TO before it counts as a removal.
    /// The kernel queues the two one after the other, not at once: a read can fall between
    /// them, and under load the renaming thread can be preempted between them for many
    /// milliseconds (seen with 20 ms: a transition split into a removal and an appearance).
    /// Only a file moved out of the spool waits this long to be reported gone. Each departure
    /// waits from when it was read, not for the folders to fall quiet this long: the sidecar's
    /// disk probe alone touches pending/ at every heartbeat, and a busy spool never falls quiet,
    /// so waiting for quiet kept a file moved out (a quarantine) counted for ever.
    static let pairingGrace: Duration = .milliseconds(500)

    /// Enough for many records at once (each is 16 bytes plus a name of at most 256).
    static let bufferSize = 64 * 1024

    /// The body of the reading thread: drains the kernel's queue into `backlog` as fast as it
    /// fills, and nothing else, until the wake descriptor is signalled. The handler (reading
    /// task files, reporting, logging) runs on the other thread, from the backlog: run on this
    /// one, a busy spool outran it and the kernel's queue (16,384 records) overflowed, and the
    /// moves in the gap went unreported (issue 18; three instances, 2,000 zero-time tasks).
    func drain(into backlog: InotifyBacklog) {
        var buffer = [UInt8](repeating: 0, count: Self.bufferSize)
        var fds = [
            pollfd(fd: inotifyFD.rawValue, events: Int16(POLLIN), revents: 0),
            pollfd(fd: wakeFD.rawValue, events: Int16(POLLIN), revents: 0),
        ]
        defer { backlog.stop() }
        while true {
            let ready: Int
            do {
                guard let count = try FileDescriptor.poll(&fds, timeout: nil) else { continue }
                ready = count
            } catch {
                logger.error("spool watcher stopped: poll failed", metadata: ["error": "\(error)"])
                return
            }
            if fds[1].revents != 0 { return }
            if ready == 0 { continue }
            let count: Int
            do {
                guard let read = try buffer.withUnsafeMutableBytes({ try inotifyFD.readNonBlocking(into: $0) }) else { continue }
                count = read
            } catch {
                logger.error("spool watcher stopped: read failed", metadata: ["error": "\(error)"])
                return
            }
            if !backlog.append(buffer[..<count]) {
                logger.warning("spool watcher fell behind: its backlog of inotify records is full; dropping it and listing the folders again")
            }
        }
    }

    /// The body of the handling thread: takes what `drain` read, translates it and calls the
    /// handler, until the backlog is stopped.
    func run(from backlog: InotifyBacklog) {
        let layout = layout
        var translator = SpoolEventTranslator(known: known) { state, name in
            Self.probe(layout.directoryPath(state).appending(name))
        }
        census.update(translator.counts)
        while true {
            // Departures whose partner did not come within the grace are removals, read between
            // records or not.
            let departed = translator.flushDepartures(seenBefore: .now - Self.pairingGrace)
            if !departed.isEmpty {
                census.update(translator.counts)
                deliver(departed)
            }
            let timeout = translator.oldestDeparture.map { max(.zero, Self.pairingGrace - $0.duration(to: .now)) }
            guard let chunks = backlog.take(waitingAtMost: timeout) else { return }
            for chunk in chunks {
                let records: [InotifyRecord]
                switch chunk {
                case .records(let bytes):
                    records = bytes.withUnsafeBytes { InotifyRecord.parse($0) }
                case .overflow:
                    records = [InotifyRecord(watch: -1, mask: UInt32(IN_Q_OVERFLOW), cookie: 0, rawName: [])]
                }
                for record in records {
                    let events = handle(record, translator: &translator)
                    // Published before the handler runs, so that a handler reading the counts sees
                    // the event it is handling counted.
                    census.update(translator.counts)
                    deliver(events, cookie: record.has(IN_MOVED_TO) ? record.cookie : 0)
                }
            }
        }
    }

    private func handle(_ record: InotifyRecord, translator: inout SpoolEventTranslator) -> [SpoolEvent] {
        if record.has(IN_Q_OVERFLOW) {
            logger.warning("spool watcher lost events (inotify queue overflow); rescanning")
            do {
                translator.reset(known: try SpoolWatcher.listTaskNames(layout))
                census.reseeded(translator.counts)
            } catch {
                logger.error("spool rescan failed", metadata: ["error": "\(error)"])
            }
            return [.rescanNeeded]
        }
        guard let state = folders[record.watch] else { return [] }
        if record.has(IN_DELETE_SELF) || record.has(IN_MOVE_SELF) {
            logger.error(
                "a spool state folder was removed or moved; its events are lost",
                metadata: ["state": "\(state)"]
            )
            return [.rescanNeeded]
        }
        return translator.translate(record, in: state)
    }

    private func deliver(_ events: [SpoolEvent], cookie: UInt32 = 0) {
        for event in events {
            logger.trace("spool event", metadata: ["event": "\(event)"])
            handler(event, cookie)
        }
    }

    /// What is at `path`, by lstat alone.
    static func probe(_ path: FilePath) -> SpoolEventTranslator.Probe {
        guard let info = try? path.lstat() else { return .missing }
        return HostileEntry.Reason(nonRegular: info).map { .other($0) } ?? .regular
    }
}
