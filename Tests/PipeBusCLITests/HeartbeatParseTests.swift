import Foundation
import PipeBusClient
import Testing

/// `Heartbeat.parse` reads heartbeats and the `submitted_at` of task files (`pipebus incident`),
/// which are untrusted: it must not go through ICU, which a long fraction crashes.
@Suite struct HeartbeatParseTests {
    @Test func readsTheSidecarsTimestamps() throws {
        let date = try #require(Heartbeat.parse("2026-11-29T14:52:27.123Z"))
        #expect(abs(date.timeIntervalSince1970 - 1_795_963_947.123) < 0.0005)
        #expect(Heartbeat.parse("2026-11-29T14:52:27Z")?.timeIntervalSince1970 == 1_795_963_947)
    }

    @Test func aLongFractionIsRefusedNotACrash() {
        #expect(Heartbeat.parse("2225-11-29T11:02:56.000000000000000000000123Z") == nil)
    }
}
