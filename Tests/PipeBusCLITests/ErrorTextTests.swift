import Foundation
import PipeBusTestSupport
import Testing

/// Errors say what is wrong once, in words a person typed (issue 14, defect 9).
@Suite struct ErrorTextTests {
    @Test func aSidecarThatIsNotRunningIsSaidOnce() async throws {
        try await TestDeployment.with { deployment in
            try await deployment.startSidecar("marie")
            await deployment.stopSidecar("marie")
            let result = try await deployment.run(["replay", "--worker", "marie", "t-1"])
            #expect(result.status == 1, "\(result)")
            #expect(result.stderr.components(separatedBy: "not reachable").count == 2, "said once: \(result)")
            #expect(result.stderr.hasPrefix("error: the sidecar of worker marie is not reachable: "), "\(result)")
        }
    }

    @Test func jsonErrorsAreOneJSONLineOnStandardError() async throws {
        try await TestDeployment.with { deployment in
            try await deployment.startSidecar("marie")
            await deployment.stopSidecar("marie")
            let unreachable = try await deployment.run(["replay", "--worker", "marie", "t-1", "--json"])
            #expect(unreachable.status == 1)
            #expect(unreachable.stdout.isEmpty, "\(unreachable)")
            let error = try Self.error(in: unreachable)
            #expect(error["code"] as? String == "unavailable", "\(unreachable)")
            #expect((error["message"] as? String)?.contains("not reachable") == true, "\(unreachable)")

            let usage = try await deployment.run(["tasks", "--worker", "marie", "--older-than", "5x", "--json"])
            #expect(usage.status == 2)
            #expect(usage.stdout.isEmpty, "\(usage)")
            let usageError = try Self.error(in: usage)
            #expect(usageError["code"] as? String == "usage", "\(usage)")
            #expect((usageError["message"] as? String)?.contains("5x") == true, "\(usage)")

            let missing = try await deployment.run(["tasks", "--worker", "nobody", "--json"])
            #expect(try Self.error(in: missing)["code"] as? String == "not_found", "\(missing)")
        }
    }

    /// `{"error": {…}}`, the only line on standard error.
    static func error(in result: CommandResult) throws -> [String: Any] {
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1, "one line: \(result)")
        let object = try #require(
            (try? JSONSerialization.jsonObject(with: Data((lines.first ?? "").utf8))) as? [String: Any],
            "not JSON: \(result)"
        )
        return try #require(object["error"] as? [String: Any], "\(result)")
    }

    @Test func aConfigKeyWithoutValueIsAPreciseUsageError() async throws {
        let result = try await CLI.run(["config", "--worker", "marie", "batch_size", "--root", "/nonexistent-pipebus-root"])
        #expect(result.status == 2, "\(result)")
        #expect(result.stderr.contains("\"batch_size\" has no value: write batch_size=VALUE"), "\(result)")
        #expect(result.stderr.contains("pipebus config"), "the config command's usage: \(result)")
        #expect(!result.stderr.contains("SUBCOMMANDS"), "not the top-level usage: \(result)")
    }

    @Test func aTaskThatIsAnArrayIsSaidSo() async throws {
        let directory = try TemporaryDirectory(prefix: "pipebus-cli-array")
        defer { directory.remove() }
        let root = directory.path
        try FileManager.default.createDirectory(atPath: "\(root)/workers/marie", withIntermediateDirectories: true)
        let result = try await CLI.run(["submit", "--worker", "marie", "--root", root, "-"], stdin: #"[{"prompt": "p"}]"#)
        #expect(result.status == 1, "\(result)")
        #expect(result.stderr.contains("a task must be a JSON object, got an array"), "\(result)")
        #expect(!result.stderr.contains("Array<"), "\(result)")
    }

    @Test(arguments: [
        (#"batch_size="7""#, #"got the string "7""#),
        ("batch_size=true", "got true"),
        ("batch_size=2.5", "got 2.5"),
        ("batch_size=0", "got 0"),
    ])
    func aConfigValueOfTheWrongKindSaysWhatItGot(_ pair: String, _ expected: String) async throws {
        let result = try await CLI.run(["config", "--worker", "marie", pair, "--root", "/nonexistent-pipebus-root"])
        #expect(result.status == 2, "\(result)")
        #expect(result.stderr.contains("batch_size must be a whole number ≥ 1, \(expected)"), "\(result)")
    }

    @Test(arguments: [
        ["tasks", "--worker", "marie", "--older-than", "-5m"],
        ["clear-stuck", "--worker", "marie", "--older-than", "-5m"],
        ["incident", "--since", "-1h"],
    ])
    func aNegativeDurationIsSaidToBeNegative(_ arguments: [String]) async throws {
        let result = try await CLI.run(arguments + ["--root", "/nonexistent-pipebus-root"])
        #expect(result.status == 2, "\(result)")
        #expect(result.stderr.contains("is negative"), "\(result)")
        #expect(!result.stderr.contains("Missing value"), "\(result)")
    }

    /// Every duration flag reads the same text: `demo --duration 1s` reaches the demo's own
    /// range check (it was refused as not a number).
    @Test func everyDurationFlagTakesUnits() async throws {
        let demo = try await CLI.run(["demo", "--duration", "1s"])
        #expect(demo.status == 2, "\(demo)")
        #expect(demo.stderr.contains("--duration must be between 2s and 1h, got 1.0s"), "\(demo)")
        let status = try await CLI.run(["status", "--watch", "--interval", "50ms", "--root", "/nonexistent-pipebus-root"])
        #expect(status.stderr.contains("--interval must be at least 100ms, got 50ms"), "\(status)")
        let health = try await CLI.run(["health", "--all", "--timeout", "2h", "--root", "/nonexistent-pipebus-root"])
        #expect(health.stderr.contains("--timeout must be above 0 and at most 1h, got 2h00m"), "\(health)")
        // A unit stays required where a bare number is ambiguous and the command acts on it.
        let bare = try await CLI.run(["clear-stuck", "--worker", "marie", "--older-than", "5", "--root", "/nonexistent-pipebus-root"])
        #expect(bare.status == 2)
        #expect(bare.stderr.contains("has no unit: write 5s or 5m"), "\(bare)")
    }

    @Test func versionIsPrinted() async throws {
        let result = try await CLI.run(["--version"])
        #expect(result.status == 0, "\(result)")
        let version = result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(version.range(of: #"^\d+\.\d+\.\d+ \(wire protocol \d+\)$"#, options: .regularExpression) != nil, "\(result)")
    }

    /// A sidecar that cannot start says why in one plain line when a person is watching
    /// (standard error a terminal, here a pty made by `script`), besides its JSON log line.
    @Test func aSidecarThatCannotStartSaysWhyInPlainWords() async throws {
        let root = NSTemporaryDirectory() + "pipebus-cli-start-\(UUID().uuidString)"
        try Data().write(to: URL(fileURLWithPath: root))  // a file where the root directory should be
        defer { try? FileManager.default.removeItem(atPath: root) }
        let command = "\(CLI.executable) sidecar --worker marie --root \(root) --metrics-address none"
        let (status, output) = try await Self.runInPty(command)
        #expect(status != 0, "\(output)")
        #expect(output.contains("\"level\":\"critical\"") || output.contains("\"level\": \"critical\""), "the JSON line stays: \(output)")
        let plain = output.split(whereSeparator: \.isNewline).filter { $0.hasPrefix("error: ") }
        #expect(plain.count == 1, "\(output)")
        #expect(plain.first?.hasPrefix("error: cannot start the sidecar of worker marie: ") == true, "\(output)")

        // Not a terminal (a log collector): the JSON line only.
        let piped = try await CLI.run(["sidecar", "--worker", "marie", "--root", root, "--metrics-address", "none"])
        #expect(piped.status != 0)
        #expect(!piped.stderr.contains("error: cannot start"), "\(piped)")
    }

    /// Runs `command` with its standard streams on a pty (`script -qec`); its status and output.
    static func runInPty(_ command: String) async throws -> (Int32, String) {
        let finished = try await ChildProcess.run(["/usr/bin/script", "-qec", command, "/dev/null"], mergingStderr: true)
        return (finished.exit.shellStatus, finished.stdout.replacingOccurrences(of: "\r", with: ""))
    }
}
