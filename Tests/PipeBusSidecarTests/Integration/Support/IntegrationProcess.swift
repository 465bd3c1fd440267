import Foundation
import PipeBusTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// Helpers of the integration tests, which run the real `pipebus` executable as separate
/// processes (`ChildProcess`, from PipeBusTestSupport). Namespaced so that their names cannot
/// clash with other suites of this target.
enum Integration {
    /// A test-side failure with a message (a deadline passed, a tool failed).
    struct Failure: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    /// The `pipebus` executable: `$PIPEBUS_EXECUTABLE` (e.g. a release build), else beside the test
    /// bundle (`.build/<config>/`), else `.build/debug/`.
    static let executable: String = {
        if let chosen = ProcessInfo.processInfo.environment["PIPEBUS_EXECUTABLE"], !chosen.isEmpty { return chosen }
        let bundleDirectory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path
        let candidates = [
            "\(bundleDirectory)/pipebus",
            // macOS: .build/debug/pipebusPackageTests.xctest/Contents/MacOS/<bundle>
            URL(fileURLWithPath: bundleDirectory).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("pipebus").path,
            FileManager.default.currentDirectoryPath + "/.build/debug/pipebus",
        ]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? candidates[0]
    }()

    /// Runs a tool to completion (at most `timeout`), returning its exit and its stdout and
    /// stderr interleaved as written (`2>&1`).
    static func run(
        _ arguments: [String],
        environment: [String: String]? = nil,
        timeout: Duration = .seconds(30)
    ) async throws -> (exit: ChildProcess.Exit, output: String) {
        let finished = try await ChildProcess.run(arguments, environment: environment, mergingStderr: true, timeout: timeout)
        return (finished.exit, finished.stdout)
    }
}
