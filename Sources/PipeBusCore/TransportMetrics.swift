import CPipeBusShim
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
///
/// Every frame write records here, so the counters are one flat allocation updated by a C
/// shim (`pipebus_histogram_record`): no reference counting, no pointer chasing, adjacent words.
public final class LatencyHistogram: @unchecked Sendable {
    /// Upper bounds in nanoseconds (1 µs … 10 s); an implicit +Inf bucket follows.
    public static let boundsNanoseconds: [UInt64] = [
        1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
        1_000_000, 2_500_000, 5_000_000, 10_000_000, 25_000_000, 50_000_000, 100_000_000,
        250_000_000, 500_000_000, 1_000_000_000, 2_500_000_000, 5_000_000_000, 10_000_000_000,
    ]

    // @unchecked Sendable: both allocations are written only at init (bounds) or through
    // atomic operations in C (cells), and freed in deinit.
    /// `boundCount + 1` bucket counters (the last +Inf), then the sum, then the count.
    private let cells: UnsafeMutablePointer<UInt64>
    private let bounds: UnsafeMutablePointer<UInt64>
    private let boundCount = Int32(LatencyHistogram.boundsNanoseconds.count)

    public init() {
        let count = Self.boundsNanoseconds.count
        bounds = .allocate(capacity: count)
        bounds.initialize(from: Self.boundsNanoseconds, count: count)
        cells = .allocate(capacity: count + 3)
        cells.initialize(repeating: 0, count: count + 3)
    }

    deinit {
        cells.deallocate()
        bounds.deallocate()
    }

    public func record(nanoseconds: UInt64) {
        pipebus_histogram_record(cells, bounds, boundCount, nanoseconds)
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
        let count = Int(boundCount)
        return Snapshot(
            bucketCounts: (0...count).map { pipebus_histogram_load(cells, Int32($0)) },
            sumNanoseconds: pipebus_histogram_load(cells, Int32(count + 1)),
            count: pipebus_histogram_load(cells, Int32(count + 2))
        )
    }
}
