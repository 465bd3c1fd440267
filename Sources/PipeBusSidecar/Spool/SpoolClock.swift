import Foundation
import PipeBusCore

#if canImport(Glibc)
import Glibc
#endif

/// Wall-clock time as the spool records it: `submitted_at` in ISO 8601 UTC and ages from file
/// mtimes, both on the wall clock because the runbook compares mtimes with `time.time()`.
enum SpoolClock {
    static func now() -> Date { Date() }

    static func nowMilliseconds() -> Int64 {
        Int64((now().timeIntervalSince1970 * 1000).rounded(.down))
    }

    /// `2024-05-01T12:00:00.123Z`: what Python's `datetime.fromisoformat` (3.11+) and `date -d`
    /// both read.
    static func iso8601(_ date: Date) -> String {
        let milliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
        var seconds = time_t(milliseconds / 1000)
        var fields = tm()
        gmtime_r(&seconds, &fields)
        func pad(_ value: Int32, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return "\(pad(fields.tm_year + 1900, 4))-\(pad(fields.tm_mon + 1, 2))-\(pad(fields.tm_mday, 2))"
            + "T\(pad(fields.tm_hour, 2)):\(pad(fields.tm_min, 2)):\(pad(fields.tm_sec, 2))"
            + ".\(pad(Int32(milliseconds % 1000), 3))Z"
    }

    /// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` by hand (`ISO8601Timestamp`): a task
    /// file is untrusted, and ICU's date parser behind `ISO8601DateFormatter` dies with SIGFPE
    /// on a long fraction (`…:56.000…000123Z`, found by fuzz-task-json), which took the sidecar
    /// down on reading such a file.
    static func parseISO8601(_ text: String) -> Date? {
        ISO8601Timestamp.parse(text).map { Date(timeIntervalSince1970: Double($0.seconds) + Double($0.nanoseconds) / 1_000_000_000) }
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
    static func enteredState(_ info: stat) -> Date {
        date(enteredStateTime(info))
    }

    /// `enteredState` as the file time it is, for exact ordering.
    static func enteredStateTime(_ info: stat) -> timespec {
        let modified = info.st_mtim
        let changed = info.st_ctim
        return (changed.tv_sec, changed.tv_nsec) > (modified.tv_sec, modified.tv_nsec) ? changed : modified
    }
}
