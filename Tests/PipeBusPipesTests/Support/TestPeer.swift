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
        get throws { try BuiltExecutable.path("pipebus-test-peer") }
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
