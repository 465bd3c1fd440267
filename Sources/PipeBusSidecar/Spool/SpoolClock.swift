import Foundation
import PipeBusCore
import PipeBusTasks

#if canImport(Glibc)
import Glibc
#endif
import SystemPackage

/// Wall-clock time as the spool records it: `submitted_at` (ISO 8601 UTC, `Timestamp`) and ages
/// from file mtimes, both on the wall clock because the runbook compares mtimes with `time.time()`.
enum SpoolClock {
    static func now() -> Date { Date() }

    static func nowMilliseconds() -> Int64 {
        Int64((now().timeIntervalSince1970 * 1000).rounded(.down))
    }

    /// A file's mtime as a date.
    static func date(_ time: timespec) -> Date {
        Date(timeIntervalSince1970: Double(time.tv_sec) + Double(time.tv_nsec) / 1_000_000_000)
    }

    /// How long ago `date` was; negative when it is in the future (a skewed clock).
    static func age(of date: Date, now: Date = now()) -> Duration {
        .milliseconds(Int64((now.timeIntervalSince(date) * 1000).rounded(.down)))
    }

    /// When a task file entered the state folder it is in: the later of its mtime and its ctime.
    /// This is DESIGN §2's "task age", the one definition every on-call decision uses.
    ///
    /// The mtime alone is not it: a rename does not change it, so a task that waited in
    /// `pending/` and was claimed by a spool worker a second ago would look as old as its wait.
    /// The sidecar stamps the mtime to the move as soon as it sees one (`stampEntry`), which
    /// makes the runbook's own `time.time() - st_mtime` right, but a rename it has not seen yet
    /// (or missed while it was down) has not been stamped. Linux sets the ctime on every
    /// rename, so the later of the two is never before the move: an age from it can understate
    /// (by the few milliseconds a stamp takes, or after a `chmod`) but never overstate the time
    /// in state, and `clear-stuck` never takes a task that has just started for a stuck one.
    /// The price: an mtime set into the past (`touch -d`, `os.utime`) does not age a task for
    /// pipebus, since the ctime cannot be set.
    static func enteredState(_ info: Stat) -> Date {
        date(enteredStateTime(info))
    }

    /// `enteredState` as the file time it is, for exact ordering.
    static func enteredStateTime(_ info: Stat) -> timespec {
        let modified = info.st_mtim
        let changed = info.st_ctim
        return (changed.tv_sec, changed.tv_nsec) > (modified.tv_sec, modified.tv_nsec) ? changed : modified
    }
}
