import FoundationEssentials

/// Writes `--svg DIR`: one latency CDF per scenario that measured latency distributions, as
/// SVG, and as PNG too when ImageMagick's `convert` is on PATH.
struct ChartExporter {
    var directory: String
    var progress: ProgressLine

    /// Writes the charts and returns the paths written.
    func export(_ results: [BenchResult]) throws -> [String] {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw BenchError("cannot create \(directory): \(error)")
        }
        let converter = imageMagick()
        var written: [String] = []
        for (scenario, measured) in Self.groupedByScenario(results.filter { $0.histogram != nil }) {
            let chart = Self.chart(scenario: scenario, results: measured)
            let svgPath = "\(directory)/\(scenario)-latency-cdf.svg"
            do {
                try Data(chart.svg().utf8).write(to: URL(filePath: svgPath), options: .atomic)
            } catch {
                throw BenchError("cannot write \(svgPath): \(error)")
            }
            written.append(svgPath)
            if let converter {
                let pngPath = "\(directory)/\(scenario)-latency-cdf.png"
                // At the SVG's own size: with -density, ImageMagick's renderer closes long paths.
                let process = try ChildProcess(executable: converter, arguments: [svgPath, pngPath])
                _ = try process.finish(timeout: .seconds(60))
                written.append(pngPath)
            }
        }
        return written
    }

    private static func chart(scenario: String, results: [BenchResult]) -> LatencyCDFChart {
        // One colour per case and size (the same in both placements, dashed for two vCPUs), so
        // that "echo 64 B" and "gRPC unary 64 B" in one chart do not look alike.
        var keys: [String] = []
        for result in results where !keys.contains(colorKey(result)) { keys.append(colorKey(result)) }
        let series = results.compactMap { result -> LatencyCDFChart.Series? in
            guard let histogram = result.histogram else { return nil }
            return LatencyCDFChart.Series(
                label: "\(result.label) \(ReportFormat.bytes(result.payloadSize)) \(result.placement.rawValue)",
                histogram: histogram,
                colorIndex: keys.firstIndex(of: colorKey(result)) ?? 0,
                isDashed: result.placement == .twoVCPU
            )
        }
        return LatencyCDFChart(title: "\(scenario): latency CDF", series: series)
    }

    private static func colorKey(_ result: BenchResult) -> String {
        "\(result.label) \(result.payloadSize)"
    }

    /// Results by scenario, scenarios in the order they ran.
    private static func groupedByScenario(_ results: [BenchResult]) -> [(String, [BenchResult])] {
        var order: [String] = []
        var groups: [String: [BenchResult]] = [:]
        for result in results {
            if groups[result.scenario] == nil { order.append(result.scenario) }
            groups[result.scenario, default: []].append(result)
        }
        return order.map { ($0, groups[$0] ?? []) }
    }

    /// `convert` when it is ImageMagick's: some machines have a stand-in of that name.
    private func imageMagick() -> String? {
        guard let path = ExecutableLookup.onPath("convert") else {
            progress.relay("note: no `convert` on PATH; writing SVG only (apt-get install imagemagick for PNG)")
            return nil
        }
        let version = try? ChildProcess(executable: path, arguments: ["-version"]).finish(timeout: .seconds(10))
        guard let version, String(decoding: version.standardOutput, as: UTF8.self).contains("ImageMagick") else {
            progress.relay("note: \(path) is not ImageMagick; writing SVG only")
            return nil
        }
        return path
    }
}
