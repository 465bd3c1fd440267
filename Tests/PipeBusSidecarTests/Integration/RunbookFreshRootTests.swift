import Foundation
import PipeBusCore
import PipeBusTestSupport
import Testing

extension Integration.RunbookScripts {
    /// "Post-Incident Actions / 1. Document Findings": the runbook's heredoc, verbatim but for
    /// `/shared`, which is `$ROOT` (the test root, the script's first argument).
    static let documentFindings = """
        # --- test header (not from the runbook) ---
        ROOT="$1"
        # --- end of test header ---
        # Create incident report
        cat << EOF > $ROOT/incidents/$(date +%Y%m%d-%H%M%S)-slow-tasks.md
        # Incident Report: Slow Task Processing

        **Date:** $(date)
        **Duration:** [FILL IN]
        **Impact:** [FILL IN]

        ## Root Cause
        [FILL IN]

        ## Resolution
        [FILL IN]

        ## Action Items
        - [ ] [FILL IN]

        ## Metrics
        - Peak latency: [FILL IN]
        - Tasks affected: [FILL IN]
        - Error rate: [FILL IN]
        EOF

        """

    /// "Mitigation Actions / 2. Performance Tuning": `optimize_batch_size`, verbatim but for
    /// `{ROOT}`. The runbook's block uses `Path` and `json` without importing them (an earlier
    /// block does); the header imports them. The footer calls it for `sys.argv[2]`.
    static let optimizeBatchSize = header + #"""
        # --- test header (not from the runbook) ---
        from pathlib import Path
        import json
        # --- end of test header ---
        # Adjust batch sizes
        def optimize_batch_size(worker_name):
            # Monitor current throughput
            # Adjust based on latency vs throughput trade-off
            config_file = Path(f"{ROOT}/config/{worker_name}.json")
            with open(config_file) as f:
                config = json.load(f)

            # Reduce batch size if latency is high
            if config.get('batch_size', 10) > 5:
                config['batch_size'] = config.get('batch_size', 10) // 2

            with open(config_file, 'w') as f:
                json.dump(config, f)

        # --- test footer (not from the runbook) ---
        optimize_batch_size(sys.argv[2])

        """#
}

/// The runbook's incident heredoc and batch-size snippet on a fresh root: they need
/// `incidents/` and `config/<worker>.json`, which the sidecar makes at its first start.
@Suite("Sidecar integration: the runbook on a fresh root", .serialized)
struct RunbookFreshRootTests {
    @Test("a first start makes incidents/ and the config with its defaults; the runbook's snippets then work")
    func snippetsWorkOnAFreshRoot() async throws {
        let root = try Integration.Root.make(worker: "marie")
        defer { root.remove() }
        let scripts = "\(root.path)/runbook"
        try FileManager.default.createDirectory(atPath: scripts, withIntermediateDirectories: true)
        try Data(Integration.RunbookScripts.documentFindings.utf8).write(to: URL(fileURLWithPath: "\(scripts)/document_findings.sh"))
        try Data(Integration.RunbookScripts.optimizeBatchSize.utf8).write(to: URL(fileURLWithPath: "\(scripts)/optimize_batch_size.py"))
        #expect(!FileManager.default.fileExists(atPath: "\(root.path)/incidents"))
        #expect(!FileManager.default.fileExists(atPath: root.configPath))

        let sidecar = try await Integration.SidecarProcess(root: root)
        let client = try await Integration.Client.connect(root, timeout: .seconds(10))
        do {
            let config = try #require(FileManager.default.contents(atPath: root.configPath), "no \(root.configPath)")
            let object = try JSONSerialization.jsonObject(with: config) as? [String: Any]
            #expect(object?["batch_size"] as? Int == 10, "\(String(decoding: config, as: UTF8.self))")
            #expect(try await client.status().batchSize == 10)

            let (exit, output) = try await Integration.run(["bash", "\(scripts)/document_findings.sh", root.path])
            #expect(exit.code == 0, "\(exit): \(output)")
            let reports = root.names(in: "\(root.path)/incidents").filter { $0.hasSuffix("-slow-tasks.md") }
            #expect(reports.count == 1, "\(reports)")
            if let report = reports.first {
                let text = try String(contentsOfFile: "\(root.path)/incidents/\(report)", encoding: .utf8)
                #expect(text.hasPrefix("# Incident Report: Slow Task Processing"), "\(text)")
            }

            let tuned = try await Integration.RunbookScripts.runPython(scripts, "optimize_batch_size.py", [root.path, "marie"])
            #expect(tuned.exit.code == 0, "\(tuned)")
            try await eventually("the sidecar to apply batch_size 5", timeout: .seconds(20)) {
                try await client.status().batchSize == 5
            }
            client.close()

            // A restart never writes over the config the runbook changed.
            await sidecar.killEverything()
            try await sidecar.restart()
            let again = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: root.configPath))) as? [String: Any]
            #expect(again?["batch_size"] as? Int == 5)
            let reconnected = try await Integration.Client.connect(root, timeout: .seconds(10))
            #expect(try await reconnected.status().batchSize == 5)
            reconnected.close()
        } catch {
            Issue.record("sidecar log tail:\n\(sidecar.logTail(60))")
            client.close()
            await sidecar.killEverything()
            throw error
        }
        await sidecar.killEverything()
    }

    @Test("a config that is there already is kept as it is, unknown keys and all")
    func existingConfigIsKept() async throws {
        let root = try Integration.Root.make(worker: "marie")
        defer { root.remove() }
        try FileManager.default.createDirectory(atPath: "\(root.path)/config", withIntermediateDirectories: true)
        let mine = Data("{\"batch_size\": 3, \"model\": \"small\"}".utf8)
        try mine.write(to: URL(fileURLWithPath: root.configPath))
        let sidecar = try await Integration.SidecarProcess(root: root)
        let client = try await Integration.Client.connect(root, timeout: .seconds(10))
        #expect(try await client.status().batchSize == 3)
        #expect(FileManager.default.contents(atPath: root.configPath) == mine)
        #expect(FileManager.default.fileExists(atPath: "\(root.path)/incidents"))
        client.close()
        await sidecar.killEverything()
    }
}

extension Integration.RunbookScripts {
    /// Runs a script written by the test with `python3`; its exit and output (not thrown on failure).
    static func runPython(_ directory: String, _ script: String, _ arguments: [String]) async throws -> (exit: ChildProcess.Exit, output: String) {
        var environment = ProcessInfo.processInfo.environment
        environment["PYTHONDONTWRITEBYTECODE"] = "1"
        return try await Integration.run(["python3", "\(directory)/\(script)"] + arguments, environment: environment)
    }
}
