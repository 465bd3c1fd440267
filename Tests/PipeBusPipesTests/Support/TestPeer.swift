import PipeBusCore
import PipeBusTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// `pipebus-test-peer`, the transport tests' other process: serves or calls over real FIFOs. Its
/// stdout lines ("ready", "connected", its summary) are awaited; its stderr (its logs) is kept
/// for failure messages.
enum TestPeer {
    /// The peer executable: built next to the test bundle (`.build/<config>/`).
    static var executablePath: String {
        get throws {
            var candidates: [String] = []
            let argument0 = CommandLine.arguments.first ?? ""
            var directory = argument0
            // The bundle may be `X.xctest` (a file on Linux) or a directory containing the binary.
            while !directory.isEmpty {
                directory = String(directory[..<(directory.lastIndex(of: "/") ?? directory.startIndex)])
                candidates.append(directory + "/pipebus-test-peer")
                if !directory.contains(".xctest") { break }
            }
            candidates.append(".build/debug/pipebus-test-peer")
            for candidate in candidates where access(candidate, X_OK) == 0 { return candidate }
            throw RPCError(code: .notFound, message: "pipebus-test-peer not found; looked at \(candidates)")
        }
    }

    /// Starts `pipebus-test-peer <subcommand> --dir <directory>/pipes <arguments>`.
    static func start(
        _ subcommand: String,
        in directory: TemporaryDirectory,
        _ arguments: [String] = []
    ) throws -> ChildProcess {
        try ChildProcess([try executablePath, subcommand, "--dir", directory.pipes.path] + arguments)
    }
}
