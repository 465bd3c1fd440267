import Foundation
import PipeBusCore
import PipeBusTasks
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
