/// The raw-C floor itself: ping-pong and one-way streams over two FIFOs, in both placements.
struct BaselineScenario: Scenario {
    let name = "baseline"
    let summary = "raw C over FIFOs: ping-pong 64 B-64 KiB, one-way stream"

    static let pingPongSizes = [64, 1024, 64 * 1024]
    static let streamSizes = [64, 64 * 1024]

    func run(in context: BenchContext) async throws -> [BenchResult] {
        var results: [BenchResult] = []
        for placement in context.placements {
            for size in Self.pingPongSizes {
                let measurement = try context.baseline(.pingPong, size: size, placement: placement)
                results.append(measurement.result(scenario: name))
            }
            for size in Self.streamSizes {
                let measurement = try context.baseline(.stream, size: size, placement: placement)
                results.append(measurement.result(scenario: name))
            }
        }
        return results
    }
}
