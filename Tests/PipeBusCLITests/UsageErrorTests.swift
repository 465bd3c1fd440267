import Foundation
import PipeBusTestSupport
import Testing

/// Usage errors exit 2 with a message that says what is wrong; no sidecar needed.
@Suite struct UsageErrorTests {
    @Test(arguments: [
        ["tasks", "--worker", "marie", "--older-than", "5x"],
        ["tasks", "--worker", "marie", "--older-than", "m"],
        ["clear-stuck", "--worker", "marie", "--older-than", "ten minutes"],
        ["incident", "--since", "1d"],
    ])
    func badDurationIsAUsageError(_ arguments: [String]) async throws {
        let result = try await CLI.run(arguments + ["--root", "/nonexistent-pipebus-root"])
        #expect(result.status == 2, "\(result)")
        #expect(result.stderr.contains("500ms, 30s, 5m, 1h"), "\(result)")
    }

    @Test(arguments: [
        ["health"],  // neither --worker nor --all
        ["health", "--worker", "a", "--all"],
        ["tasks"],  // no --worker
        ["tasks", "--worker", "marie", "--state", "sleeping"],
        ["tasks", "--worker", "../etc"],
        ["config", "--worker", "marie", "novalue"],
        ["clear-stuck", "--worker", "marie"],
        ["no-such-command"],
    ])
    func badUsageExits2(_ arguments: [String]) async throws {
        let result = try await CLI.run(arguments + ["--root", "/nonexistent-pipebus-root"])
        #expect(result.status == 2, "\(result)")
        #expect(!result.stderr.isEmpty)
    }

    @Test func helpExits0() async throws {
        let result = try await CLI.run(["--help"])
        #expect(result.status == 0)
        for command in [
            "health", "status", "tasks", "submit", "replay", "clear-stuck", "config", "watch", "incident", "worker",
            "demo",
        ] {
            #expect(result.stdout.contains(command), "\(command) missing from the help")
        }
    }

    @Test func unknownWorkerIsAnError() async throws {
        let directory = try TemporaryDirectory(prefix: "pipebus-cli-empty")
        defer { directory.remove() }
        let root = directory.path
        try FileManager.default.createDirectory(atPath: "\(root)/workers/marie", withIntermediateDirectories: true)
        for arguments in [
            ["tasks", "--worker", "nobody"], ["health", "--worker", "nobody"], ["submit", "--worker", "nobody", "-"],
        ] {
            let result = try await CLI.run(arguments + ["--root", root], stdin: "{}")
            #expect(result.status == 1, "\(result)")
            #expect(result.stderr.contains("no worker named \"nobody\""), "\(result)")
            #expect(result.stderr.contains("marie"), "known workers are listed: \(result)")
        }
    }
}
