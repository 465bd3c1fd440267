import FoundationEssentials

/// The table `strace -c` writes: calls per syscall.
struct StraceSummary: Sendable {
    /// Calls per syscall (failed calls included).
    var calls: [String: Int]

    var total: Int { calls.values.reduce(0, +) }

    /// Parses the file `strace -c -o FILE` wrote.
    init(contentsOf path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw BenchError("strace wrote no summary to \(path)")
        }
        calls = [:]
        // "% time  seconds  usecs/call  calls  errors  syscall": errors may be blank.
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 5, Double(fields[0]) != nil, let count = Int(fields[3]),
                let name = fields.last, name != "total"
            else { continue }
            calls[String(name), default: 0] += count
        }
        guard !calls.isEmpty else { throw BenchError("no syscall table in \(path)") }
    }

    init(calls: [String: Int]) {
        self.calls = calls
    }

    /// These calls plus `other`'s (two processes together).
    func adding(_ other: StraceSummary) -> StraceSummary {
        StraceSummary(calls: calls.merging(other.calls, uniquingKeysWith: +))
    }

    /// Calls per operation between a short run (`self`) and a longer one, so that what both
    /// runs do once (starting, connecting, exiting) cancels out.
    func perOperation(upTo longer: StraceSummary, operations: Int) -> [String: Double] {
        var result: [String: Double] = [:]
        for name in Set(calls.keys).union(longer.calls.keys) {
            let difference = (longer.calls[name] ?? 0) - (calls[name] ?? 0)
            result[name] = Double(difference) / Double(max(1, operations))
        }
        return result
    }
}
