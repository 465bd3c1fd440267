import Glibc
import Histogram

/// A latency CDF as a hand-written SVG: latency on a log axis, cumulative fraction on a
/// "nines" axis (50%, 90%, 99%, 99.9%, 99.99%), so the body and the tail both stay readable.
struct LatencyCDFChart {
    struct Series {
        var label: String
        var histogram: Histogram<UInt64>
        /// Same colour for the same payload size across placements.
        var colorIndex: Int
        /// Dashed for the two-vCPU placement.
        var isDashed: Bool
    }

    var title: String
    var series: [Series]

    private static let width = 960.0
    private static let height = 600.0
    private static let plot = (left: 90.0, right: 930.0, top: 60.0, bottom: 530.0)
    /// The top of the y axis: 99.99%. Rarer events than that are drawn at the top.
    private static let maxNines = 4.0
    private static let palette = [
        "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf",
    ]

    func svg() -> String {
        let values = series.flatMap { [$0.histogram.min, $0.histogram.max] }.filter { $0 > 0 }
        let low = log10(Double(values.min() ?? 1)).rounded(.down)
        let high = max(low + 1, log10(Double(values.max() ?? 10)).rounded(.up))
        let x = { (nanoseconds: Double) in
            Self.plot.left + (log10(nanoseconds) - low) / (high - low) * (Self.plot.right - Self.plot.left)
        }
        let y = { (fraction: Double) in
            let nines = fraction >= 1 ? Self.maxNines : min(Self.maxNines, -log10(1 - fraction))
            return Self.plot.bottom - nines / Self.maxNines * (Self.plot.bottom - Self.plot.top)
        }

        var lines = [
            "<svg xmlns='http://www.w3.org/2000/svg' width='\(Int(Self.width))' height='\(Int(Self.height))'"
                + " font-family='DejaVu Sans, Helvetica, Arial, sans-serif' font-size='13'>",
            Self.element("rect", ["width": "100%", "height": "100%", "fill": "white"]),
            Self.element(
                "text",
                ["x": Self.number(Self.width / 2), "y": "32", "text-anchor": "middle", "font-size": "17"],
                text: title
            ),
        ]
        lines += xAxis(low: low, high: high, x: x)
        lines += yAxis(y: y)
        lines += series.map { curve($0, x: x, y: y) }
        lines += series.enumerated().flatMap { legendEntry($1, row: $0) }
        lines.append("</svg>")
        return lines.joined(separator: "\n") + "\n"
    }

    /// Decades labelled, with 2× and 5× gridlines between them.
    private func xAxis(low: Double, high: Double, x: (Double) -> Double) -> [String] {
        var lines: [String] = []
        for decade in Int(low)...Int(high) {
            for multiple in [1.0, 2.0, 5.0] {
                let value = multiple * pow(10, Double(decade))
                guard log10(value) <= high + 1e-9 else { continue }
                let position = Self.number(x(value))
                let (stroke, ink) = multiple == 1 ? ("#bbbbbb", "black") : ("#e6e6e6", "#777777")
                lines.append(
                    Self.element(
                        "line",
                        [
                            "x1": position, "y1": Self.number(Self.plot.top),
                            "x2": position, "y2": Self.number(Self.plot.bottom), "stroke": stroke,
                        ]
                    )
                )
                lines.append(
                    Self.element(
                        "text",
                        ["x": position, "y": Self.number(Self.plot.bottom + 20), "text-anchor": "middle", "fill": ink],
                        text: ReportFormat.nanoseconds(value, wholeUnits: true)
                    )
                )
            }
        }
        lines.append(
            Self.element(
                "text",
                [
                    "x": Self.number((Self.plot.left + Self.plot.right) / 2), "y": Self.number(Self.plot.bottom + 50),
                    "text-anchor": "middle",
                ],
                text: "latency (log scale)"
            )
        )
        return lines
    }

    private func yAxis(y: (Double) -> Double) -> [String] {
        let ticks: [(fraction: Double, label: String)] = [
            (0, "0%"), (0.5, "50%"), (0.9, "90%"), (0.99, "99%"), (0.999, "99.9%"), (0.9999, "99.99%"),
        ]
        var lines: [String] = []
        for tick in ticks {
            let position = Self.number(y(tick.fraction))
            lines.append(
                Self.element(
                    "line",
                    [
                        "x1": Self.number(Self.plot.left), "y1": position,
                        "x2": Self.number(Self.plot.right), "y2": position, "stroke": "#bbbbbb",
                    ]
                )
            )
            lines.append(
                Self.element(
                    "text",
                    ["x": Self.number(Self.plot.left - 8), "y": position, "dy": "4", "text-anchor": "end"],
                    text: tick.label
                )
            )
        }
        let middle = Self.number((Self.plot.top + Self.plot.bottom) / 2)
        lines.append(
            Self.element(
                "text",
                ["x": "24", "y": middle, "text-anchor": "middle", "transform": "rotate(-90 24 \(middle))"],
                text: "fraction of operations at or below"
            )
        )
        lines.append(
            Self.element(
                "rect",
                [
                    "x": Self.number(Self.plot.left), "y": Self.number(Self.plot.top),
                    "width": Self.number(Self.plot.right - Self.plot.left),
                    "height": Self.number(Self.plot.bottom - Self.plot.top), "fill": "none", "stroke": "black",
                ]
            )
        )
        return lines
    }

    private func curve(_ line: Series, x: (Double) -> Double, y: (Double) -> Double) -> String {
        let total = Double(line.histogram.totalCount)
        var points: [String] = []
        for step in line.histogram.recordedValues() {
            let position = Self.number(x(Double(max(step.value, 1))))
            if points.isEmpty { points.append("\(position),\(Self.number(y(0)))") }
            let point = "\(position),\(Self.number(y(Double(step.totalCountToThisValue) / total)))"
            if point != points.last { points.append(point) }
        }
        guard !points.isEmpty else { return "" }
        return stroke(line, path: "M" + points.joined(separator: " L"))
    }

    private func legendEntry(_ line: Series, row: Int) -> [String] {
        let y = Self.number(Self.plot.top + 20 + Double(row) * 20)
        let x = Self.plot.left + 14
        return [
            stroke(line, path: "M\(Self.number(x)),\(y) L\(Self.number(x + 30)),\(y)"),
            Self.element("text", ["x": Self.number(x + 38), "y": y, "dy": "4"], text: line.label),
        ]
    }

    /// A path in the series' colour and dash. Paths, not <line> or <polyline>: ImageMagick's own
    /// renderer closes polylines and joins a <line> onto the path drawn before it.
    private func stroke(_ line: Series, path: String) -> String {
        let color = Self.palette[line.colorIndex % Self.palette.count]
        let dash: KeyValuePairs<String, String> = line.isDashed ? ["stroke-dasharray": "7 4"] : [:]
        return Self.element(
            "path",
            ["fill": "none", "stroke": color, "stroke-width": "2", "d": path],
            extra: dash
        )
    }

    /// `<name key='value' ...>text</name>`, or self-closing without text. Values are escaped.
    private static func element(
        _ name: String,
        _ attributes: KeyValuePairs<String, String>,
        extra: KeyValuePairs<String, String> = [:],
        text: String? = nil
    ) -> String {
        let pairs = (Array(attributes) + Array(extra)).map { " \($0.key)='\(escaped($0.value))'" }.joined()
        guard let text else { return "<\(name)\(pairs)/>" }
        return "<\(name)\(pairs)>\(escaped(text))</\(name)>"
    }

    private static func escaped(_ text: String) -> String {
        text.replacing("&", with: "&amp;").replacing("<", with: "&lt;").replacing(">", with: "&gt;")
            .replacing("'", with: "&apos;")
    }

    private static func number(_ value: Double) -> String { ReportFormat.fixed(value, digits: 1) }
}
