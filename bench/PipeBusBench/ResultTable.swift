/// The human-readable report: one row per result, numbers right-aligned, then what the columns mean.
struct ResultTable {
    var results: [BenchResult]

    private static let header = [
        "scenario", "case", "placement", "size", "p50", "p90", "p99", "p99.9", "max", "msgs/s", "MB/s", "vs C", "note",
    ]
    /// Columns read as text, left-aligned; the rest are numbers.
    private static let textColumns: Set<Int> = [0, 1, 2, 12]

    static let legend = """
        Latencies are per call or round trip (exact percentiles), per frame in thread CPU time for
        the codec (median of batches, max = slowest batch), and per write() for write-latency
        (quantiles of the bucketed histogram; max = highest bucket's bound). msgs/s counts calls
        or round trips for latency rows; MB/s is payload moved one way (10^6 bytes). vs C is the
        cost over the raw-C baseline measured in the same scenario, above 1 slower: p50 / C p50
        for latencies, C msgs/s / msgs/s for streams, syscalls per round trip / C's, and for the
        codec ns per frame / C ping-pong p50 same-vCPU at that size (bench/README.md).
        """

    func render() -> String {
        let rows = [Self.header] + results.map(Self.cells)
        let widths = Self.columnWidths(rows)
        var lines: [String] = []
        for (index, row) in rows.enumerated() {
            if index > 1 && row[0] != rows[index - 1][0] { lines.append("") }
            lines.append(Self.aligned(row, widths: widths, textColumns: Self.textColumns))
            if index == 0 {
                lines.append(widths.map { String(repeating: "-", count: $0) }.joined(separator: "  "))
            }
        }
        return lines.joined(separator: "\n")
    }

    /// The `grpc` scenario's ratios in brief, one line per size and placement, or nil when it
    /// did not measure: "same-vCPU  64 B  pipebus 12.5 µs  gRPC 365 µs  29.2× lower p50".
    static func gRPCComparison(_ results: [BenchResult]) -> String? {
        let rows = results.filter { $0.gRPCOverPipeBus != nil }
        guard !rows.isEmpty else { return nil }
        var table: [[String]] = []
        for row in rows {
            guard let ratio = row.gRPCOverPipeBus, let theirs = row.latency?.p50 else { continue }
            let ours = results.first {
                $0.scenario == row.scenario && $0.label == "pipebus echo" && $0.placement == row.placement
                    && $0.payloadSize == row.payloadSize
            }
            table.append([
                row.placement.rawValue,
                ReportFormat.bytes(row.payloadSize),
                "pipebus " + (ours?.latency.map { ReportFormat.nanoseconds($0.p50) } ?? "?"),
                "gRPC " + ReportFormat.nanoseconds(theirs),
                ReportFormat.ratio(ratio) + " lower",
            ])
        }
        let widths = columnWidths(table)
        let title = "pipebus vs gRPC (Python grpcio, Unix socket), p50 (issue target: ≥ 20× lower at 64 B):"
        return ([title] + table.map { "  " + aligned($0, widths: widths, textColumns: [0]) }).joined(separator: "\n")
    }

    /// The widest cell of each column.
    private static func columnWidths(_ rows: [[String]]) -> [Int] {
        var widths = [Int](repeating: 0, count: rows.map(\.count).max() ?? 0)
        for row in rows {
            for (column, cell) in row.enumerated() { widths[column] = max(widths[column], cell.count) }
        }
        return widths
    }

    /// One line of cells padded to `widths`: text columns left-aligned, numbers right-aligned.
    private static func aligned(_ row: [String], widths: [Int], textColumns: Set<Int>) -> String {
        let cells = row.enumerated().map { column, cell in
            let padding = String(repeating: " ", count: widths[column] - cell.count)
            return textColumns.contains(column) ? cell + padding : padding + cell
        }
        return cells.joined(separator: "  ").trimmingTrailingSpaces()
    }

    private static func cells(_ result: BenchResult) -> [String] {
        let latency = result.latency
        let nanoseconds = { (value: Double?) in value.map { ReportFormat.nanoseconds($0) } ?? "–" }
        return [
            result.scenario,
            result.label,
            result.placement.rawValue,
            ReportFormat.bytes(result.payloadSize),
            nanoseconds(latency?.p50),
            nanoseconds(latency?.p90),
            nanoseconds(latency?.p99),
            nanoseconds(latency?.p999),
            nanoseconds(latency?.max),
            result.messagesPerSecond.map(ReportFormat.rate) ?? "–",
            result.megabytesPerSecond.map(ReportFormat.megabytesPerSecond) ?? "–",
            result.ratioToBaseline.map(ReportFormat.ratio) ?? "–",
            result.note ?? "",
        ]
    }
}

extension String {
    fileprivate func trimmingTrailingSpaces() -> String {
        var trimmed = self
        while trimmed.last == " " { trimmed.removeLast() }
        return trimmed
    }
}
