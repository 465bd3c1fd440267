import Foundation
import Testing

/// Finds and runs an external program (promtool, prometheus) for the observability tests.
struct CommandLineTool {
    let url: URL

    /// The program on PATH (plus the Debian locations, in case PATH is minimal), or nil.
    static func find(_ name: String) -> CommandLineTool? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let directories = path.split(separator: ":").map(String.init) + ["/usr/bin", "/usr/local/bin"]
        for directory in directories {
            let candidate = URL(fileURLWithPath: directory).appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return CommandLineTool(url: candidate) }
        }
        return nil
    }

    /// Why a test cannot go on without the program: CI installs it (scripts/install-deps.sh).
    static func missingMessage(_ name: String) -> Comment {
        Comment(
            rawValue: "\(name) is not installed: install Debian's `prometheus` package "
                + "(scripts/install-deps.sh does); this test does not pass without it"
        )
    }

    /// Runs to completion with `input` on stdin; returns the exit status and stdout + stderr.
    func run(_ arguments: [String], input: String) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = url
        process.arguments = arguments
        let stdin = Pipe()
        let output = Pipe()
        process.standardInput = stdin
        process.standardOutput = output
        process.standardError = output
        try process.run()
        stdin.fileHandleForWriting.write(Data(input.utf8))
        try stdin.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
