/// Tables printed a row at a time, as the rows arrive: the widths are fixed beforehand.
extension TextTable {
    /// One row: each cell padded to its column's width (0: not padded), separated by two spaces.
    static func line(_ cells: [String], widths: [Int]) -> String {
        var line = zip(cells, widths).map { $0 + String(repeating: " ", count: max(0, $1 - $0.count)) }
            .joined(separator: "  ")
        while line.hasSuffix(" ") { line.removeLast() }
        return line
    }

    /// The rule under a header: as wide as each column, or as its header cell when unpadded.
    static func rule(widths: [Int], header: [String]) -> String {
        zip(widths, header).map { String(repeating: "-", count: max($0, $1.count)) }.joined(separator: "  ")
    }
}
