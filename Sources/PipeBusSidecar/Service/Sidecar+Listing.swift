import Foundation
import PipeBusCore
import PipeBusTasks

/// Listings that cost what they yield: the sidecar keeps the latest arrivals in the state
/// folders from the watcher's events (`RecentArrivals`), and a newest-first listing that they
/// answer (`pipebus tasks --limit 10`, `--since 1h`) reads only the files it sends.
extension Sidecar {
    /// The listing `query` asks for: from the recent arrivals when they answer it, else from the
    /// folders.
    func taskListing(_ query: TaskListingQuery) throws -> TaskListing {
        let recent = recentArrivals.withLock { $0 }
        return try spool.listing(query, recent: recent)
    }

    /// Starts the recent arrivals again from one listing of the folders (at start, and after
    /// the watcher lost events).
    func seedRecentArrivals() {
        do {
            let entries = try spool.arrivals()
            recentArrivals.withLock { $0.seed(entries) }
            retention.seed(entries)
        } catch {
            // Every listing reaching back before now falls back to the folders.
            logger.warning("could not list the spool for its recent arrivals", metadata: ["error": "\(error)"])
            let now = SpoolClock.timespec(spool.configuration.clock())
            recentArrivals.withLock { $0.seed([], unknownUpTo: now) }
        }
    }

    /// Records an arrival the watcher reported.
    func noteArrival(_ event: SpoolEvent) {
        let now = SpoolClock.timespec(spool.configuration.clock())
        switch event {
        case .transition(let id, _, let to):
            recentArrivals.withLock { $0.record(id, in: to, at: now) }
            retention.noteArrival(id, in: to, at: now)
        case .appeared(let id, let state):
            recentArrivals.withLock { $0.record(id, in: state, at: now) }
            retention.noteArrival(id, in: state, at: now)
        case .removed(let id, let state):
            recentArrivals.withLock { $0.record(id, in: nil, at: now) }
            retention.noteRemoval(id, from: state)
        case .updated, .unexpected, .rescanNeeded:
            break
        }
    }
}
