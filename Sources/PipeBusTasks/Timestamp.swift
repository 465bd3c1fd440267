public import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// ISO 8601 timestamps as the spool, heartbeats, logs and the CLI write and read them: the one
/// formatter and the one parser, both by hand.
///
/// Written in UTC as `2024-05-01T12:00:00.123Z` (milliseconds; the logs' `ts` takes
/// microseconds), which Python's `datetime.fromisoformat` (3.11+) and `date -d` both read.
/// Read with or without a fraction and with any offset. Task files and heartbeats are read by
/// the sidecar and the CLI, and a task file is untrusted: ICU's date parser (behind
/// Foundation's `ISO8601DateFormatter`) dies with SIGFPE on a long fraction
/// (`…:56.000…000123Z`, found by fuzz-task-json), taking down whoever reads the file.
public enum Timestamp {
    /// `date` in UTC with `fractionDigits` (0–6) digits of the second, truncated.
    ///
    /// A `Date` is a `Double` of seconds: `.123` may be stored as `.12299999…`. It is taken to the
    /// nearest microsecond first (well above a `Date`'s resolution today, ~0.2 µs), so that a
    /// date read from `…:56.123Z` is written back as `.123`, not `.122`.
    public static func iso8601(_ date: Date, fractionDigits: Int = 3) -> String {
        let microseconds = (date.timeIntervalSince1970 * 1_000_000).rounded()
        let seconds = (microseconds / 1_000_000).rounded(.down)
        let nanoseconds = Int(microseconds - seconds * 1_000_000) * 1000
        return iso8601(seconds: Int(seconds), nanoseconds: nanoseconds, fractionDigits: fractionDigits)
    }

    /// Unix milliseconds (the task service's `*_ms` fields) as `iso8601(_:)` writes them.
    public static func iso8601(milliseconds: Int64, fractionDigits: Int = 3) -> String {
        let seconds = milliseconds >= 0 ? milliseconds / 1000 : (milliseconds - 999) / 1000
        let nanoseconds = Int(milliseconds - seconds * 1000) * 1_000_000
        return iso8601(seconds: Int(seconds), nanoseconds: nanoseconds, fractionDigits: fractionDigits)
    }

    /// `seconds` since 1970 UTC and `nanoseconds` past them (a `timespec`), with
    /// `fractionDigits` digits of the second; no fraction at all when it is 0.
    public static func iso8601(seconds: Int, nanoseconds: Int, fractionDigits: Int) -> String {
        var time = time_t(seconds)
        var fields = tm()
        gmtime_r(&time, &fields)
        func pad(_ value: Int, _ width: Int) -> String {
            let digits = String(value)
            return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
        }
        var text = pad(Int(fields.tm_year) + 1900, 4) + "-" + pad(Int(fields.tm_mon) + 1, 2) + "-" + pad(Int(fields.tm_mday), 2)
            + "T" + pad(Int(fields.tm_hour), 2) + ":" + pad(Int(fields.tm_min), 2) + ":" + pad(Int(fields.tm_sec), 2)
        let digits = min(max(fractionDigits, 0), 9)
        if digits > 0 {
            var divisor = 1
            for _ in digits..<9 { divisor *= 10 }
            text += "." + pad(nanoseconds / divisor, digits)
        }
        return text + "Z"
    }

    /// `parse(_:)` as a `Date`; nil for anything that is not such a timestamp.
    public static func date(_ text: String) -> Date? {
        parse(text).map { Date(timeIntervalSince1970: Double($0.seconds) + Double($0.nanoseconds) / 1_000_000_000) }
    }

    /// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`, with 1 to 9 fraction digits (what the
    /// sidecar writes, and what Python's `isoformat()` writes): seconds since 1970-01-01 UTC and
    /// the nanoseconds past them; nil for anything else.
    public static func parse(_ text: String) -> (seconds: Int64, nanoseconds: Int32)? {
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
                if index - start > 9 { return nil }
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
        return (Int64(seconds), Int32(nanoseconds))
    }
}
