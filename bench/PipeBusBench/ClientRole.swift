import Glibc
import PipeBusCore
import PipeBusPipes
import PipeBusEcho

/// The client peer: connects to a server peer's directory and measures its workloads in order
/// on one connection, through pipebus's public client API.
///
/// It runs on the cooperative pool without ever touching the main actor, so a call's caller
/// is the task that reads its reply (pipebus's leader/follower client): no thread hop but the
/// transport's own.
enum ClientRole: PeerRole {
    struct Configuration: Codable, Sendable {
        var directory: String
        var settings: TransportSettings
        var workloads: [Workload]
        /// A `StartBarrier` directory: wait there after the first workload's warmup.
        var barrier: String?
    }

    struct Report: Codable, Sendable {
        var measurements: [WorkloadMeasurement]
    }

    static let name = "client"

    /// How long the server peer may take to create its connect FIFO.
    private static let serverStartTimeout: Duration = .seconds(30)

    static func run(_ configuration: Configuration) async throws -> Report {
        let metrics = TransportMetrics()
        let connection = try connect(configuration, metrics: metrics)
        defer { connection.close() }
        var measurements: [WorkloadMeasurement] = []
        for (index, workload) in configuration.workloads.enumerated() {
            let barrier = index == 0 ? configuration.barrier : nil
            switch workload {
            case .roundTrips(let roundTrips):
                measurements.append(
                    try await measure(roundTrips, on: connection, metrics: metrics, barrier: barrier)
                )
            case .stream(let stream):
                measurements.append(try await measure(stream, on: connection, metrics: metrics, barrier: barrier))
            }
        }
        return Report(measurements: measurements)
    }

    /// Waits for the server's connect FIFO, then connects, retrying a few times while the
    /// server starts. (Not more: every attempt leaves a connect record in the server's FIFO.)
    private static func connect(_ configuration: Configuration, metrics: TransportMetrics) throws -> ClientConnection {
        let directory = PipeDirectory(path: configuration.directory)
        let giveUp = MonotonicClock.nanoseconds() + UInt64(serverStartTimeout.inNanoseconds)
        var info = stat()
        while lstat(directory.connectFIFO, &info) != 0 {
            guard MonotonicClock.nanoseconds() < giveUp else {
                throw BenchError("no server appeared in \(directory.path) within \(serverStartTimeout)")
            }
            usleep(2_000)
        }
        var attempt = 1
        while true {
            do {
                return try PipeConnector.connect(
                    to: directory,
                    configuration: configuration.settings.connectorConfiguration,
                    metrics: metrics
                )
            } catch let error as RPCError where error.code == .unavailable && attempt < maxConnectAttempts {
                attempt += 1
                usleep(20_000)
            } catch {
                throw BenchError("connecting failed \(attempt) time(s); last: \(error)")
            }
        }
    }

    private static let maxConnectAttempts = 5

    // MARK: Round trips

    private static func measure(
        _ workload: RoundTripWorkload,
        on connection: ClientConnection,
        metrics: TransportMetrics,
        barrier: String?
    ) async throws -> WorkloadMeasurement {
        let payload = workload.content.bytes(count: workload.payloadSize)
        let method =
            switch workload.method {
            case .echo: Pipebus_Testing_V1_Echo.Method.Echo.descriptor
            case .echoAsync: Pipebus_Testing_V1_Echo.Method.EchoAsync.descriptor
            }
        // One checked call first: a broken echo must not look fast.
        let echoed = try await connection.unary(method, request: payload, responseType: [UInt8].self)
        guard echoed == payload else { throw BenchError("\(method) did not echo the \(payload.count)-byte payload") }

        _ = try await call(method, payload, on: connection, count: workload.warmup, callers: workload.callers)
        if let barrier { try StartBarrier.arriveAndWait(directory: barrier) }
        let before = metrics.snapshot()
        let start = MonotonicClock.nanoseconds()
        let samples = try await call(method, payload, on: connection, count: workload.count, callers: workload.callers)
        let end = MonotonicClock.nanoseconds()
        let after = metrics.snapshot()
        return WorkloadMeasurement(
            samples: samples,
            count: workload.count,
            startNanoseconds: start,
            endNanoseconds: end,
            bytesSent: after.bytesSent - before.bytesSent,
            bytesReceived: after.bytesReceived - before.bytesReceived
        )
    }

    /// `count` calls split among `callers` concurrent tasks; every call's latency.
    private static func call(
        _ method: MethodDescriptor,
        _ payload: [UInt8],
        on connection: ClientConnection,
        count: Int,
        callers: Int
    ) async throws -> [UInt64] {
        guard callers > 1 else { return try await callSequentially(method, payload, on: connection, count: count) }
        return try await withThrowingTaskGroup(of: [UInt64].self) { group in
            for caller in 0..<callers {
                let share = count / callers + (caller < count % callers ? 1 : 0)
                group.addTask { try await callSequentially(method, payload, on: connection, count: share) }
            }
            var samples: [UInt64] = []
            samples.reserveCapacity(count)
            for try await callerSamples in group { samples += callerSamples }
            return samples
        }
    }

    private static func callSequentially(
        _ method: MethodDescriptor,
        _ payload: [UInt8],
        on connection: ClientConnection,
        count: Int
    ) async throws -> [UInt64] {
        var samples: [UInt64] = []
        samples.reserveCapacity(count)
        for _ in 0..<count {
            let start = MonotonicClock.nanoseconds()
            let response = try await connection.unary(method, request: payload, responseType: [UInt8].self)
            samples.append(MonotonicClock.nanoseconds() - start)
            guard response.count == payload.count else {
                throw BenchError("\(method) answered \(response.count) bytes to \(payload.count)")
            }
        }
        return samples
    }

    // MARK: Streams

    private static func measure(
        _ workload: StreamWorkload,
        on connection: ClientConnection,
        metrics: TransportMetrics,
        barrier: String?
    ) async throws -> WorkloadMeasurement {
        let payload = PayloadContent.random.bytes(count: workload.payloadSize)
        if workload.warmup > 0 { try await stream(payload, count: workload.warmup, on: connection) }
        if let barrier { try StartBarrier.arriveAndWait(directory: barrier) }
        let serverBefore = try await BenchService.writeLatency(on: connection)
        let before = metrics.snapshot()
        let start = MonotonicClock.nanoseconds()
        try await stream(payload, count: workload.count, on: connection)
        let end = MonotonicClock.nanoseconds()
        let after = metrics.snapshot()
        let serverAfter = try await BenchService.writeLatency(on: connection)
        return WorkloadMeasurement(
            samples: [],
            count: workload.count,
            startNanoseconds: start,
            endNanoseconds: end,
            bytesSent: after.bytesSent - before.bytesSent,
            bytesReceived: after.bytesReceived - before.bytesReceived,
            serverWriteLatency: serverAfter.subtracting(serverBefore)
        )
    }

    /// One `repeatPayload` call of `count` messages, read to the end and checked.
    private static func stream(_ payload: [UInt8], count: Int, on connection: ClientConnection) async throws {
        let request = EchoService.repeatRequest(count: UInt32(count), payload: payload)
        let received = try await connection.withServerStreaming(
            Pipebus_Testing_V1_Echo.Method.Repeat.descriptor,
            request: request,
            responseType: [UInt8].self
        ) { responses in
            var received = 0
            for try await response in responses {
                guard response.count == payload.count else {
                    throw BenchError("stream message of \(response.count) bytes, expected \(payload.count)")
                }
                received += 1
            }
            return received
        }
        guard received == count else { throw BenchError("stream ended after \(received) of \(count) messages") }
    }
}
