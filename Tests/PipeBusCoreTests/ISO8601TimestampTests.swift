import Testing

@testable import PipeBusCore

/// The hand-written ISO 8601 parser shared by the sidecar (task files) and the CLI (task files
/// and heartbeats), which replaced ICU's after a long fraction crashed it (fuzz-task-json).
@Suite struct ISO8601TimestampTests {
    @Test func readsWhatTheSidecarAndPythonWrite() throws {
        #expect(ISO8601Timestamp.parse("2025-11-29T11:02:56Z")! == (1_764_414_176, 0))
        #expect(ISO8601Timestamp.parse("2025-11-29T11:02:56.123Z")! == (1_764_414_176, 123_000_000))
        #expect(ISO8601Timestamp.parse("2025-11-29T12:02:56.000001+01:00")! == (1_764_414_176, 1_000))
        #expect(ISO8601Timestamp.parse("2025-11-29T10:02:56-01:00")! == (1_764_414_176, 0))
        #expect(ISO8601Timestamp.parse("1970-01-01T00:00:00.123456789Z")! == (0, 123_456_789))
        #expect(ISO8601Timestamp.parse("2000-02-29T00:00:00Z")! == (951_782_400, 0))
        #expect(ISO8601Timestamp.parse("1969-12-31T23:59:59Z")! == (-1, 0))
    }

    @Test(arguments: [
        // The input that made ICU die with SIGFPE: more than 9 fraction digits.
        "2225-11-29T11:02:56.000000000000000000000123Z",
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
        #expect(ISO8601Timestamp.parse(text) == nil)
    }
}
