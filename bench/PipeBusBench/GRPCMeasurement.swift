/// What one run of the gRPC peer's client measured: per-call latencies at each size.
struct GRPCMeasurement: Sendable {
    /// The JSON object `grpc_peer.py client` prints.
    struct Report: Decodable, Sendable {
        struct Case: Decodable, Sendable {
            var size: Int
            var count: Int
            var startNanoseconds: UInt64
            var endNanoseconds: UInt64
            /// Every measured call's latency, in measurement order.
            var samples: [UInt64]

            private enum CodingKeys: String, CodingKey {
                case size, count
                case startNanoseconds = "start_ns"
                case endNanoseconds = "end_ns"
                case samples = "samples_ns"
            }
        }

        var grpcio: String
        var python: String
        var cases: [Case]
    }

    var placement: Placement
    var report: Report

    /// The case at `size` as a workload measurement, so it becomes a row like pipebus's do.
    func workload(size: Int) -> WorkloadMeasurement? {
        report.cases.first { $0.size == size }.map { measured in
            WorkloadMeasurement(
                samples: measured.samples,
                count: measured.count,
                startNanoseconds: measured.startNanoseconds,
                endNanoseconds: measured.endNanoseconds,
                bytesSent: 0,
                bytesReceived: 0
            )
        }
    }
}
