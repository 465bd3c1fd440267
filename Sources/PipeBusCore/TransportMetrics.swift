import Synchronization

/// Counters and the write-latency histogram of one side of the transport (a sidecar's server,
/// or a client), shared by all its connections. Lock-free on the hot path: each update is one
/// or a few relaxed atomic adds. The sidecar exports these as Prometheus metrics.
public final class TransportMetrics: Sendable {
    public let writeLatency = LatencyHistogram()
    private let counters = Counters()
    private let errors = Mutex<[String: UInt64]>([:])
    private let connections = Atomic<Int>(0)

    public init() {}

    private final class Counters: Sendable {
        let framesSent = Atomic<UInt64>(0)
        let framesReceived = Atomic<UInt64>(0)
        let bytesSent = Atomic<UInt64>(0)
        let bytesReceived = Atomic<UInt64>(0)
    }

    public func recordSent(frames: Int, bytes: Int) {
        counters.framesSent.add(UInt64(frames), ordering: .relaxed)
        counters.bytesSent.add(UInt64(bytes), ordering: .relaxed)
    }

    public func recordReceived(frames: Int, bytes: Int) {
        if frames > 0 { counters.framesReceived.add(UInt64(frames), ordering: .relaxed) }
        if bytes > 0 { counters.bytesReceived.add(UInt64(bytes), ordering: .relaxed) }
    }

    /// Counts a connection that ended in error, by a short snake_case reason (`bad_frame`,
    /// `slow_consumer`, `handshake_timeout`, …), for `pipe_connection_errors_total{reason=…}`.
    public func recordConnectionError(reason: String) {
        errors.withLock { $0[reason, default: 0] += 1 }
    }

    public func connectionOpened() { connections.add(1, ordering: .relaxed) }
    public func connectionClosed() { connections.subtract(1, ordering: .relaxed) }

    public struct Snapshot: Sendable {
        public var framesSent: UInt64
        public var framesReceived: UInt64
        public var bytesSent: UInt64
        public var bytesReceived: UInt64
        public var connectionErrors: [String: UInt64]
        public var openConnections: Int
    }

    public func snapshot() -> Snapshot {
        Snapshot(
            framesSent: counters.framesSent.load(ordering: .relaxed),
            framesReceived: counters.framesReceived.load(ordering: .relaxed),
            bytesSent: counters.bytesSent.load(ordering: .relaxed),
            bytesReceived: counters.bytesReceived.load(ordering: .relaxed),
            connectionErrors: errors.withLock { $0 },
            openConnections: connections.load(ordering: .relaxed)
        )
    }
}

/// A fixed-bucket latency histogram, lock-free: recording is a bucket search over a short
/// array and three relaxed atomic adds. Buckets start at 1 µs, as the runbook's
/// `pipe_write_latency_seconds` needs.
public final class LatencyHistogram: Sendable {
    /// Upper bounds in nanoseconds (1 µs … 10 s); an implicit +Inf bucket follows.
    public static let boundsNanoseconds: [UInt64] = [
        1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
        1_000_000, 2_500_000, 5_000_000, 10_000_000, 25_000_000, 50_000_000, 100_000_000,
        250_000_000, 500_000_000, 1_000_000_000, 2_500_000_000, 5_000_000_000, 10_000_000_000,
    ]

    private final class Cell: Sendable { let value = Atomic<UInt64>(0) }
    private let buckets: [Cell] = (0...LatencyHistogram.boundsNanoseconds.count).map { _ in Cell() }
    private let sum = Cell()
    private let count = Cell()

    public init() {}

    public func record(nanoseconds: UInt64) {
        var index = 0
        let bounds = Self.boundsNanoseconds
        while index < bounds.count && nanoseconds > bounds[index] { index += 1 }
        buckets[index].value.add(1, ordering: .relaxed)
        sum.value.add(nanoseconds, ordering: .relaxed)
        count.value.add(1, ordering: .relaxed)
    }

    public struct Snapshot: Sendable {
        /// Per-bucket counts (not cumulative), the last being +Inf.
        public var bucketCounts: [UInt64]
        public var sumNanoseconds: UInt64
        public var count: UInt64

        /// The value below which `quantile` of the samples fall, interpolated within a bucket
        /// as Prometheus' histogram_quantile does; nil when empty.
        public func quantileNanoseconds(_ quantile: Double) -> Double? {
            guard count > 0 else { return nil }
            let rank = quantile * Double(count)
            var seen: UInt64 = 0
            for (index, bucketCount) in bucketCounts.enumerated() {
                let previous = seen
                seen += bucketCount
                if Double(seen) >= rank && bucketCount > 0 {
                    let bounds = LatencyHistogram.boundsNanoseconds
                    guard index < bounds.count else { return Double(bounds.last!) }
                    let lower = index == 0 ? 0 : Double(bounds[index - 1])
                    let fraction = (rank - Double(previous)) / Double(bucketCount)
                    return lower + (Double(bounds[index]) - lower) * fraction
                }
            }
            return nil
        }
    }

    public func snapshot() -> Snapshot {
        Snapshot(
            bucketCounts: buckets.map { $0.value.load(ordering: .relaxed) },
            sumNanoseconds: sum.value.load(ordering: .relaxed),
            count: count.value.load(ordering: .relaxed)
        )
    }
}
