public import Logging
import PipeBusCore
public import PipeBusTasks
import Synchronization

#if canImport(Glibc)
import Glibc
#endif
import PipeBusSystem
import SystemPackage

/// Watches a spool's four state folders with inotify and reports what happens in them — the
/// renames spool workers make themselves (DESIGN §1), files dropped in by hand, the runbook's
/// replay — as `SpoolEvent`s, on a named thread of its own (`spool-watch`), read from the kernel
/// by another (`spool-inotify`) that only keeps the kernel's queue from overflowing.
///
/// Nothing in the folders is followed or opened: names are classified by `lstat` alone, so a
/// symlink or a FIFO dropped into `pending/` is reported as `.unexpected`, never read.
public final class SpoolWatcher: Sendable {
    private let inotifyFD: FileDescriptor
    private let wakeFD: FileDescriptor
    private let threads: Mutex<[OSThread]>
    private let logger: Logger
    /// The folder counts, kept from the events (see `SpoolCensus`).
    public let census = SpoolCensus()

    /// What every state folder is watched for. IN_DONT_FOLLOW and IN_ONLYDIR refuse a folder
    /// that was replaced by a symlink; IN_EXCL_UNLINK ignores files already unlinked.
    private static let mask = UInt32(
        IN_CREATE | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF
            | IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK
    )

    /// Starts watching the spool at `layout`; `handler` is called on the watcher's thread, one
    /// event at a time, in the order the kernel reported them. Call `stop()` to end it.
    public convenience init(layout: SpoolLayout, logger: Logger, handler: @escaping @Sendable (SpoolEvent) -> Void) throws {
        try self.init(layout: layout, logger: logger) { event, _ in handler(event) }
    }

    /// Like `init(layout:logger:handler:)`, and with each event the kernel's cookie of the
    /// rename that caused it (0 when no rename did: a write, a removal). Every inotify watcher
    /// on the host sees the same cookie for one rename, so sidecar instances sharing a spool
    /// can agree on which of them reports it.
    public convenience init(layout: SpoolLayout, logger: Logger, handlerWithCookie handler: @escaping @Sendable (SpoolEvent, UInt32) -> Void) throws {
        try self.init(layout: layout, logger: logger, backlogLimit: InotifyBacklog.limit, handler: handler)
    }

    /// `backlogLimit`: how far (in bytes of records) the handler may fall behind the kernel
    /// before the watcher drops what it holds and lists the folders again (`InotifyBacklog`).
    init(layout: SpoolLayout, logger: Logger, backlogLimit: Int, handler: @escaping @Sendable (SpoolEvent, UInt32) -> Void) throws {
        var logger = logger
        logger[metadataKey: "worker"] = "\(layout.worker)"
        self.logger = logger
        let inotifyFD = try translatingSystemErrors(subject: "spool") { try FileDescriptor.inotify() }
        let wakeFD: FileDescriptor
        do {
            wakeFD = try translatingSystemErrors(subject: "spool") { try FileDescriptor.eventFD() }
        } catch {
            inotifyFD.closeIgnoringErrors()
            throw error
        }
        self.inotifyFD = inotifyFD
        self.wakeFD = wakeFD
        self.threads = Mutex([])

        let folders: [Int32: TaskState]
        let known: [TaskState: TaskNameSet]
        do {
            folders = try Self.addWatches(inotifyFD, layout: layout)
            // Listed after the watches are in place, so nothing falls between list and watch.
            known = try translatingSystemErrors(subject: "spool") { try Self.listTaskNames(layout) }
        } catch {
            inotifyFD.closeIgnoringErrors()
            wakeFD.closeIgnoringErrors()
            throw error
        }
        // Seeded here, so that the counts are right as soon as this returns.
        var seeded = SpoolCensus.Counts()
        for (state, names) in known { seeded[state] = names.count }
        census.update(seeded)
        let loop = WatchLoop(
            inotifyFD: inotifyFD,
            wakeFD: wakeFD,
            folders: folders,
            layout: layout,
            known: known,
            census: census,
            logger: logger,
            handler: handler
        )
        let backlog = InotifyBacklog(limit: backlogLimit)
        threads.withLock {
            $0 = [
                OSThread(name: "spool-watch") { loop.run(from: backlog) },
                OSThread(name: "spool-inotify") { loop.drain(into: backlog) },
            ]
        }
    }

    /// Watches `spool`'s folders, logging with the spool's logger.
    public convenience init(spool: TaskSpool, handler: @escaping @Sendable (SpoolEvent) -> Void) throws {
        try self.init(layout: spool.layout, logger: spool.logger, handler: handler)
    }

    /// Stops the threads and waits for them; idempotent. No event is delivered after it
    /// returns. Not to be called from the handler, which runs on a thread it waits for.
    public func stop() {
        let running = threads.withLock { threads in
            defer { threads = [] }
            return threads
        }
        guard !running.isEmpty else { return }
        wakeFD.signalEvent()
        for thread in running { thread.join() }
    }

    deinit {
        stop()
        inotifyFD.closeIgnoringErrors()
        wakeFD.closeIgnoringErrors()
    }

    private static func addWatches(_ fd: FileDescriptor, layout: SpoolLayout) throws -> [Int32: TaskState] {
        var folders: [Int32: TaskState] = [:]
        for state in TaskState.allCases {
            let path = layout.directory(for: state)
            let watch: Int32
            do {
                watch = try fd.addWatch(FilePath(path), mask: mask)
            } catch let error as SystemCallError {
                // ENOSPC here is the per-user watch limit, not a full disk.
                if error.errno == .noSpace {
                    throw RPCError(
                        code: .resourceExhausted,
                        message: "inotify watch limit reached (fs.inotify.max_user_watches) watching \(path)",
                        cause: "ENOSPC"
                    )
                }
                throw error.rpcError(subject: "spool")
            }
            folders[watch] = state
        }
        return folders
    }

    /// The task names in each folder now, so that a rewrite is not taken for a new task.
    static func listTaskNames(_ layout: SpoolLayout) throws -> [TaskState: TaskNameSet] {
        var known: [TaskState: TaskNameSet] = [:]
        for state in TaskState.allCases {
            let names = try layout.directoryPath(state).entries().lazy
                .filter { !$0.isHidden }.map(\.name).filter { TaskID(fileName: $0) != nil }
            known[state] = TaskNameSet(names)
        }
        return known
    }
}
