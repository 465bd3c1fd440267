import Glibc

/// Finds the programs the harness runs: itself (for peers), the C baseline next to it, and
/// optional tools on PATH.
enum ExecutableLookup {
    /// The harness's own executable, to re-execute as a peer.
    static func harness() throws -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        if count > 0 {
            return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
        guard let first = CommandLine.arguments.first, first.contains("/") else {
            throw BenchError("cannot tell where the harness executable is (no /proc/self/exe)")
        }
        return first
    }

    /// `name` in the harness's directory, where SwiftPM builds every product of the package.
    static func besideHarness(_ name: String) throws -> String {
        let harness = try harness()
        return harness.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
            + "/" + name
    }

    /// `pipebus-c-baseline`, which SwiftPM builds into the same directory as the harness.
    static func cBaseline() throws -> String {
        let path = try besideHarness("pipebus-c-baseline")
        guard access(path, X_OK) == 0 else {
            throw BenchError(
                "\(path) is missing: build it with `swift build -c release --product pipebus-c-baseline` "
                    + "(`swift run pipebus-bench` builds only the harness)"
            )
        }
        return path
    }

    /// The first executable called `name` on PATH, as `which` would find it.
    static func onPath(_ name: String) -> String? {
        guard let path = getenv("PATH").map({ String(cString: $0) }) else { return nil }
        return path.split(separator: ":").map { "\($0)/\(name)" }.first { access($0, X_OK) == 0 }
    }
}
