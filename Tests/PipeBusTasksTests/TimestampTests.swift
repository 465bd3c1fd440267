import Foundation
import PipeBusTasks
import Testing

/// The one ISO 8601 formatter and parser: task files' `submitted_at`, heartbeats' `timestamp`,
/// logs' `ts` and the CLI's JSON. The parser is by hand, not ICU's, after a long fraction
/// crashed ICU (fuzz-task-json).
@Suite struct TimestampTests {
    @Test func readsWhatTheSidecarAndPythonWrite() throws {
        #expect(Timestamp.parse("2025-11-29T11:02:56Z")! == (1_764_414_176, 0))
        #expect(Timestamp.parse("2025-11-29T11:02:56.123Z")! == (1_764_414_176, 123_000_000))
        #expect(Timestamp.parse("2025-11-29T12:02:56.000001+01:00")! == (1_764_414_176, 1_000))
        #expect(Timestamp.parse("2025-11-29T10:02:56-01:00")! == (1_764_414_176, 0))
        #expect(Timestamp.parse("1970-01-01T00:00:00.123456789Z")! == (0, 123_456_789))
        #expect(Timestamp.parse("1970-01-01T00:00:00.5Z")! == (0, 500_000_000))
        #expect(Timestamp.parse("2000-02-29T00:00:00Z")! == (951_782_400, 0))
        #expect(Timestamp.parse("1969-12-31T23:59:59Z")! == (-1, 0))
        // Python's `datetime.now(timezone.utc).isoformat()` and `time.strftime("%Y-%m-%dT%H:%M:%SZ")`.
        #expect(Timestamp.parse("2026-12-03T16:53:44.002311+00:00")! == (1_796_316_824, 2_311_000))
        #expect(Timestamp.date("2026-11-29T14:52:27Z")?.timeIntervalSince1970 == 1_795_963_947)
        let date = try #require(Timestamp.date("2026-11-29T14:52:27.123Z"))
        #expect(abs(date.timeIntervalSince1970 - 1_795_963_947.123) < 0.0005)
    }

    @Test(arguments: [
        // The input that made ICU die with SIGFPE: more than 9 fraction digits.
        "2225-11-29T11:02:56.000000000000000000000123Z",
        "2225-11-29T11:02:56." + String(repeating: "0", count: 97) + "123Z",
        "2025-11-29T11:02:56.1234567890Z",
        "2025-11-29T11:02:56.Z",
        "2025-11-29T11:02:56",
        "2025-11-29 11:02:56Z",
        "2025-13-29T11:02:56Z",
        "2025-11-29T24:02:56Z",
        "2025-11-29T11:02:56+1:00",
        "2025-11-29T11:02:56Zjunk",
        "",
        "not a date at all, not even close",
    ])
    func refusesAnythingElse(text: String) {
        #expect(Timestamp.parse(text) == nil)
        #expect(Timestamp.date(text) == nil)
    }

    /// What every writer wrote before there was one formatter: the spool and the heartbeat
    /// milliseconds and `Z`, the logs microseconds.
    @Test func writesMillisecondsInUTC() {
        #expect(Timestamp.iso8601(Date(timeIntervalSince1970: 1_764_414_176.123)) == "2025-11-29T11:02:56.123Z")
        #expect(Timestamp.iso8601(Date(timeIntervalSince1970: 1_764_414_176)) == "2025-11-29T11:02:56.000Z")
        #expect(Timestamp.iso8601(Date(timeIntervalSince1970: 0)) == "1970-01-01T00:00:00.000Z")
        #expect(Timestamp.iso8601(milliseconds: 1_796_316_824_002) == "2026-12-03T16:53:44.002Z")
        #expect(Timestamp.iso8601(milliseconds: 951_782_400_999) == "2000-02-29T00:00:00.999Z")
        #expect(Timestamp.iso8601(milliseconds: -1) == "1969-12-31T23:59:59.999Z")
        #expect(Timestamp.iso8601(seconds: 0, nanoseconds: 0, fractionDigits: 6) == "1970-01-01T00:00:00.000000Z")
        #expect(
            Timestamp.iso8601(seconds: 1_700_000_000, nanoseconds: 123_456_789, fractionDigits: 6)
                == "2023-11-14T22:13:20.123456Z"
        )
        #expect(Timestamp.iso8601(seconds: 1_700_000_000, nanoseconds: 123_456_789, fractionDigits: 0) == "2023-11-14T22:13:20Z")
    }

    /// Written, then read, gives the same instant to the millisecond, across a spread of dates.
    @Test func roundTrips() throws {
        for step in Int64(0)..<2_000 {
            // Spread over 1970 to ~2223 by a large odd stride: every field and leap years vary.
            let milliseconds = step * 3_999_999_937_001 % 8_000_000_000_000
            let text = Timestamp.iso8601(milliseconds: milliseconds)
            let parsed = try #require(Timestamp.parse(text), "\(text)")
            #expect(parsed.seconds * 1000 + Int64(parsed.nanoseconds / 1_000_000) == milliseconds, "\(text)")
            #expect(Timestamp.iso8601(try #require(Timestamp.date(text))) == text)
        }
    }
}
