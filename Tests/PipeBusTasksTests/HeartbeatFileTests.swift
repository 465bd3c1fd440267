import Foundation
import PipeBusTasks
import Testing

/// `heartbeat.json` through its one type: what the sidecar wrote before the type existed
/// (`Fixtures/heartbeat*.json`, taken from a running sidecar) reads, and writes back byte for
/// byte; readers of older or hand-made files keep their defaults.
@Suite struct HeartbeatFileTests {
    @Test(arguments: ["heartbeat.json", "heartbeat-metrics.json"])
    func theSidecarsFileRoundTripsByteForByte(_ name: String) throws {
        let bytes = try fixture(name)
        let heartbeat = try HeartbeatFile(json: Data(bytes))
        #expect(try heartbeat.encoded() == bytes)
    }

    @Test func readsEveryField() throws {
        let heartbeat = try HeartbeatFile(json: Data(try fixture("heartbeat-metrics.json")))
        #expect(Timestamp.iso8601(heartbeat.timestamp) == "2026-12-03T16:53:44.002Z")
        #expect(heartbeat.seq == 19)
        #expect(heartbeat.pid == 28899)
        #expect(heartbeat.worker == "marie")
        #expect(heartbeat.instance == "i1")
        #expect(heartbeat.workerPID == 0)
        #expect(heartbeat.workerAlive)
        #expect(heartbeat.health == "NOT_SERVING")
        #expect(heartbeat.healthMessage == "sidecar is shutting down")
        #expect(heartbeat.intervalSeconds == 0.3)
        #expect(heartbeat.counts == HeartbeatFile.Counts(pending: 1))
        #expect(heartbeat.leases == 0)
        #expect(heartbeat.batchSize == 10)
        #expect(heartbeat.metricsAddress == "127.0.0.1:34903")
    }

    /// Only `timestamp` is required, with or without a fraction; the rest has the defaults the
    /// client always assumed (a 2 s interval, a live worker).
    @Test func aMinimalFileReadsWithDefaults() throws {
        let heartbeat = try HeartbeatFile(json: Data(#"{"timestamp": "2026-11-29T14:52:27Z", "interval_seconds": 5}"#.utf8))
        #expect(heartbeat.timestamp.timeIntervalSince1970 == 1_795_963_947)
        #expect(heartbeat.intervalSeconds == 5)
        #expect(heartbeat.seq == 0)
        #expect(heartbeat.health == "UNKNOWN")
        #expect(heartbeat.workerAlive)
        #expect(heartbeat.metricsAddress == nil)
        let wrongTypes = try HeartbeatFile(json: Data(#"{"timestamp": "2026-11-29T14:52:27.5Z", "seq": "x", "pid": -3}"#.utf8))
        #expect(wrongTypes.seq == 0)
        #expect(wrongTypes.pid == -3)
    }

    @Test(arguments: [
        #"{}"#, #"{"timestamp": 12}"#, #"{"timestamp": "yesterday"}"#,
        #"{"timestamp": "2225-11-29T11:02:56.000000000000000000000123Z"}"#, #"[]"#, "",
    ])
    func aFileWithoutAValidTimestampIsRefused(_ text: String) {
        #expect(throws: (any Error).self) { try HeartbeatFile(json: Data(text.utf8)) }
    }

    @Test func livenessCountsIntervals() {
        let beat = HeartbeatFile(timestamp: Date(timeIntervalSince1970: 1000), seq: 1, pid: 1, intervalSeconds: 2)
        #expect(beat.liveness(now: Date(timeIntervalSince1970: 1006)) == .alive)
        #expect(beat.liveness(now: Date(timeIntervalSince1970: 1006.5)) == .suspect)
        #expect(beat.liveness(now: Date(timeIntervalSince1970: 1010.5)) == .dead)
        #expect(beat.age(now: Date(timeIntervalSince1970: 990)) == 0)
    }
}
