/// Several calls in flight: 1, 4 and 16 concurrent callers (tasks) sharing one connection, and
/// 1, 4 and 8 client processes with a connection each, all on one server; 64 B echo. Per-call
/// p50/p99 and the total calls per second.
///
/// Client processes all run on the client CPU of the placement and start their measured calls
/// together (a `StartBarrier`); the rate is all their calls over the span from the first
/// start to the last end.
struct ConcurrencyScenario: Scenario {
    let name = "concurrency"
    let summary = "1/4/16 callers on one connection, 1/4/8 client processes; 64 B echo"

    static let callerCounts = [1, 4, 16]
    static let connectionCounts = [1, 4, 8]
    static let payloadSize = 64

    func run(in context: BenchContext) async throws -> [BenchResult] {
        var results: [BenchResult] = []
        let total = max(100, context.roundTrips / 2)
        for placement in context.placements {
            let baseline = try context.baseline(.pingPong, size: Self.payloadSize, placement: placement)
            let cRate = baseline.report.messagesPerSecond
            let server = try ServerPeer(context: context, placement: placement, settings: context.tuning.transport)

            for callers in Self.callerCounts {
                let label = "\(callers) caller\(callers == 1 ? "" : "s"), 1 connection"
                context.progress.begin("[concurrency] \(placement.rawValue): \(label)")
                let workload = RoundTripWorkload(
                    payloadSize: Self.payloadSize,
                    warmup: total / 10,
                    count: total,
                    callers: callers
                )
                // A client process per case, so that one failing case leaves the others.
                do {
                    let measurement = try server.runClient([.roundTrips(workload)])[0]
                    results.append(
                        .roundTrips(
                            scenario: name,
                            label: label,
                            placement: placement,
                            payloadSize: Self.payloadSize,
                            measurement: measurement,
                            baseline: baseline,
                            note: rateNote(measurement.perSecond, cRate: cRate)
                        )
                    )
                } catch {
                    results.append(
                        .failure(
                            scenario: name,
                            label: label,
                            placement: placement,
                            payloadSize: Self.payloadSize,
                            error: error
                        )
                    )
                }
            }

            for connections in Self.connectionCounts {
                context.progress.begin("[concurrency] \(placement.rawValue): \(connections) client processes")
                let share = max(1, total / connections)
                let workload = RoundTripWorkload(
                    payloadSize: Self.payloadSize,
                    warmup: max(20, share / 10),
                    count: share
                )
                let label = "\(connections) process\(connections == 1 ? "" : "es"), 1 caller each"
                let clients: [WorkloadMeasurement]
                do {
                    clients = try server.runClients(connections, [.roundTrips(workload)]).compactMap(\.first)
                } catch {
                    results.append(
                        .failure(
                            scenario: name,
                            label: label,
                            placement: placement,
                            payloadSize: Self.payloadSize,
                            error: error
                        )
                    )
                    continue
                }
                let combined = WorkloadMeasurement(
                    samples: clients.flatMap(\.samples),
                    count: clients.reduce(0) { $0 + $1.count },
                    startNanoseconds: clients.map(\.startNanoseconds).min() ?? 0,
                    endNanoseconds: clients.map(\.endNanoseconds).max() ?? 0,
                    bytesSent: clients.reduce(0) { $0 + $1.bytesSent },
                    bytesReceived: clients.reduce(0) { $0 + $1.bytesReceived }
                )
                results.append(
                    .roundTrips(
                        scenario: name,
                        label: label,
                        placement: placement,
                        payloadSize: Self.payloadSize,
                        measurement: combined,
                        baseline: baseline,
                        note: rateNote(combined.perSecond, cRate: cRate)
                    )
                )
            }
            _ = try server.stop()
        }
        return results
    }

    /// "calls/s 1.8× C ping-pong's": the rate against one C client's sequential round trips.
    private func rateNote(_ perSecond: Double, cRate: Double) -> String {
        "calls/s \(ReportFormat.ratio(perSecond / cRate)) C ping-pong's"
    }
}
