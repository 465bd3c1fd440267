import PipeBusEcho
/// One thing a client peer measures on its connection, in order.
enum Workload: Codable, Sendable, Hashable {
    /// Unary calls, timed one by one.
    case roundTrips(RoundTripWorkload)
    /// One server-streaming call, timed as a whole.
    case stream(StreamWorkload)
}

/// Unary echo calls: `callers` tasks share the connection and make `count` calls between them.
struct RoundTripWorkload: Codable, Sendable, Hashable {
    enum Method: String, Codable, Sendable {
        /// `Pipebus_Testing_V1_Echo.Method.Echo.descriptor`: inline on the server's reader thread.
        case echo
        /// `Pipebus_Testing_V1_Echo.Method.EchoAsync.descriptor`: an async handler, run as a task on the connection's executor.
        case echoAsync
    }

    var method = Method.echo
    var payloadSize: Int
    var content = PayloadContent.random
    /// Unmeasured calls first (split among the callers like the measured ones).
    var warmup: Int
    /// Measured calls, in all.
    var count: Int
    /// Concurrent callers (tasks) on the one connection.
    var callers = 1
}

/// `Pipebus_Testing_V1_Echo.Method.Repeat.descriptor`: the server sends `count` messages of `payloadSize` bytes as
/// fast as it can; the client reads them all. A stream of `warmup` messages goes first.
struct StreamWorkload: Codable, Sendable, Hashable {
    var payloadSize: Int
    var warmup: Int
    var count: Int
}

/// What a client peer measured for one workload.
struct WorkloadMeasurement: Codable, Sendable {
    /// Round trips: every call's latency in nanoseconds, callers' samples one after another.
    var samples: [UInt64]
    /// Calls or messages measured.
    var count: Int
    /// `CLOCK_MONOTONIC` when the measured part started and ended (shared by all processes).
    var startNanoseconds: UInt64
    var endNanoseconds: UInt64
    /// Bytes this client wrote and read during the measured part, frames and envelopes included.
    var bytesSent: UInt64
    var bytesReceived: UInt64
    /// Streams: the server's write-latency histogram over the measured stream.
    var serverWriteLatency: WriteLatencyCounts?

    var elapsedNanoseconds: UInt64 { endNanoseconds - startNanoseconds }

    /// Calls or messages per second over the measured part.
    var perSecond: Double { Double(count) / (Double(max(1, elapsedNanoseconds)) / 1e9) }
}
