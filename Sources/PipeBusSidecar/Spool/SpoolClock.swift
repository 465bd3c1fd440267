import Foundation

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

    /// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`, with at most 9 fraction digits (what
    /// `iso8601(_:)` writes, and what Python's `isoformat()` writes); nil otherwise.
    ///
    /// By hand rather than through `ISO8601DateFormatter`: a task file is untrusted, and ICU's
    /// date parser dies with SIGFPE on a long fraction (`…:56.000…000123Z`, found by
    /// fuzz-task-json), which took the sidecar down on reading such a file.
    static func parseISO8601(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        guard bytes.count >= 20, bytes.count <= 40 else { return nil }
        func number(_ start: Int, _ count: Int) -> Int? {
            guard start + count <= bytes.count else { return nil }
            var value = 0
            for byte in bytes[start..<(start + count)] {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
            }
            return value
        }
        func at(_ index: Int, _ character: Unicode.Scalar) -> Bool { index < bytes.count && bytes[index] == UInt8(ascii: character) }
        guard let year = number(0, 4), at(4, "-"), let month = number(5, 2), at(7, "-"), let day = number(8, 2),
            at(10, "T") || at(10, "t"), let hour = number(11, 2), at(13, ":"), let minute = number(14, 2), at(16, ":"),
            let second = number(17, 2),
            (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61
        else { return nil }
        var index = 19
        var nanoseconds = 0
        if at(index, ".") {
            index += 1
            let start = index
            while index < bytes.count, let digit = number(index, 1) {
                nanoseconds = nanoseconds * 10 + digit
                index += 1
            }
            let digits = index - start
            guard (1...9).contains(digits) else { return nil }
            for _ in digits..<9 { nanoseconds *= 10 }
        }
        var offsetSeconds = 0
        if at(index, "Z") || at(index, "z") {
            index += 1
        } else if at(index, "+") || at(index, "-") {
            guard let offsetHours = number(index + 1, 2), at(index + 3, ":"), let offsetMinutes = number(index + 4, 2),
                offsetHours < 24, offsetMinutes < 60
            else { return nil }
            offsetSeconds = (offsetHours * 60 + offsetMinutes) * 60 * (at(index, "+") ? 1 : -1)
            index += 6
        } else {
            return nil
        }
        guard index == bytes.count else { return nil }
        // Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
        let shiftedYear = month <= 2 ? year - 1 : year
        let era = shiftedYear / 400
        let yearOfEra = shiftedYear - era * 400
        let dayOfYear = (153 * ((month + 9) % 12) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        let days = era * 146_097 + dayOfEra - 719_468
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offsetSeconds
        return Date(timeIntervalSince1970: Double(seconds) + Double(nanoseconds) / 1_000_000_000)
    }

    /// A file's mtime as a date.
    static func date(_ time: timespec) -> Date {
        Date(timeIntervalSince1970: Double(time.tv_sec) + Double(time.tv_nsec) / 1_000_000_000)
    }

    /// How long ago `date` was; negative when it is in the future (a skewed clock).
    static func age(of date: Date) -> Duration {
        .milliseconds(Int64((now().timeIntervalSince(date) * 1000).rounded(.down)))
    }
}
