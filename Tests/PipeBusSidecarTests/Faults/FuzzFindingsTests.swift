import Foundation
import PipeBusCore
import Testing

@testable import PipeBusSidecar

/// Inputs the fuzz targets (fuzz/) found to break the sidecar, kept as regression tests.
@Suite("Fuzz findings")
struct FuzzFindingsTests {
    /// fuzz-task-json: a task file dropped into pending/ with `"attempts": Int.max` trapped on
    /// the `+ 1` of a claim (arithmetic overflow), so leasing it crashed the sidecar, and after
    /// each restart the same file crashed it again. The count now saturates.
    @Test("claiming a task whose attempts is Int.max (or not a number) does not crash", arguments: [
        "9223372036854775807", "-9223372036854775808", "1e300", "\"many\"", "null",
    ])
    func claimWithHostileAttempts(_ attempts: String) throws {
        try withSpool { spool, _ in
            let id = try TaskID("hostile-attempts")
            try writeByHand(spool.layout.path(of: id, in: .pending), #"{"prompt":"p","attempts":\#(attempts)}"#)
            let record = try spool.claim(id)
            #expect(record.state == .active)
            #expect(record.attempts >= 1 || attempts.hasPrefix("-"), "attempts \(record.attempts)")
        }
    }
}

@Suite("ISO 8601 times in task files")
struct SubmittedAtParsingTests {
    @Test("what the spool and Python write parses to the right instant")
    func parses() throws {
        let date = Date(timeIntervalSince1970: 1_764_414_176.123)
        #expect(abs(try #require(SpoolClock.parseISO8601(SpoolClock.iso8601(date))).timeIntervalSince1970 - 1_764_414_176.123) < 0.0005)
        #expect(SpoolClock.parseISO8601("2025-11-29T11:02:56Z")?.timeIntervalSince1970 == 1_764_414_176)
        #expect(SpoolClock.parseISO8601("2025-11-29T12:02:56+01:00")?.timeIntervalSince1970 == 1_764_414_176)
        #expect(SpoolClock.parseISO8601("1970-01-01T00:00:00.5Z")?.timeIntervalSince1970 == 0.5)
        #expect(SpoolClock.parseISO8601("1970-01-01T00:00:00.123456789Z") != nil)
        #expect(SpoolClock.parseISO8601("2000-02-29T00:00:00Z")?.timeIntervalSince1970 == 951_782_400)
    }

    @Test("fuzz-task-json's crash: a long fraction, and other malformed times, are nil, not a SIGFPE in ICU")
    func refusesMalformed() {
        let hostile = "2225-11-29T11:02:56." + String(repeating: "0", count: 97) + "123Z"
        for text in [hostile, "2025-11-29T11:02:56.Z", "2025-13-29T11:02:56Z", "2025-11-29 11:02:56Z", "2025-11-29T11:02:56", "", "x"] {
            #expect(SpoolClock.parseISO8601(text) == nil, "\(text)")
        }
    }
}
