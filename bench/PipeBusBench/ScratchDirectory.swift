import Glibc

/// Private temporary directories (0700, by `mkdtemp`) for FIFOs and tool output.
enum ScratchDirectory {
    /// A new directory `<parent>/<prefix>.XXXXXX`; the parent defaults to $TMPDIR or /tmp.
    static func make(in parent: String? = nil, prefix: String = "pipebus-bench") throws -> String {
        let base = parent ?? getenv("TMPDIR").map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        var template = Array((base + "/\(prefix).XXXXXX").utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        guard made != nil else { throw BenchError("mkdtemp in \(base)", errno: errno) }
        return String(cString: template.withUnsafeBufferPointer { $0.baseAddress! })
    }
}
