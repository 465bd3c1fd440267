import Foundation
import Testing

@Suite struct ConfigCommandTests {
    @Test func setAndShowConfig() async throws {
        try await TestDeployment.with { deployment in
            try await deployment.startSidecar("marie")
            let set = try await deployment.run([
                "config", "--worker", "marie", "--json", "--allow-unknown", "batch_size=3", "label=fast lane", "debug=true",
                "limits={\"max\": 2}",
            ])
            #expect(set.status == 0, "\(set)")
            let object = (set.json as? [String: Any])?["config"] as? [String: Any]
            #expect(object?["batch_size"] as? Int == 3, "\(set)")
            #expect(object?["label"] as? String == "fast lane")
            #expect(object?["debug"] as? Bool == true)
            #expect((object?["limits"] as? [String: Any])?["max"] as? Int == 2)

            let data = try Data(contentsOf: URL(fileURLWithPath: "\(deployment.root)/config/marie.json"))
            let file = try JSONSerialization.jsonObject(with: data) as? [String: Any]
            #expect(file?["batch_size"] as? Int == 3)

            let shown = try await deployment.run(["config", "--worker", "marie"])
            #expect(shown.status == 0, "\(shown)")
            #expect(shown.stdout.range(of: #"batch_size +3 "#, options: .regularExpression) != nil, "\(shown)")
            #expect(shown.stdout.contains("default 10"), "\(shown)")

            let status = try await deployment.run(["status", "--json"])
            let marie = (status.json as? [[String: Any]])?.first?["status"] as? [String: Any]
            #expect(marie?["batch_size"] as? Int == 3, "\(status)")

            let refused = try await deployment.run(["config", "--worker", "marie", "batch_size=0"])
            #expect(refused.status == 2, "\(refused)")
            #expect(refused.stderr.contains("batch_size"), "\(refused)")
        }
    }

    /// A new worker's config shows every key pipebus reads, each default marked (it was `{}`).
    @Test func aNewWorkerShowsItsDefaults() async throws {
        try await TestDeployment.with { deployment in
            try await deployment.startSidecar("marie")
            let shown = try await deployment.run(["config", "--worker", "marie"])
            #expect(shown.status == 0, "\(shown)")
            let row = shown.stdout.split(separator: "\n").first { $0.hasPrefix("batch_size ") }
            #expect(row?.contains(" 10 ") == true && row?.contains("default") == true, "\(shown)")

            let json = try await deployment.run(["config", "--worker", "marie", "--json"])
            let object = json.json as? [String: Any]
            #expect((object?["config"] as? [String: Any])?["batch_size"] as? Int == 10, "\(json)")
            #expect((object?["defaults"] as? [String: Any])?["batch_size"] as? Int == 10, "\(json)")
            #expect(object?["source"] as? String == "sidecar", "\(json)")

            // A file that leaves the key out (written by hand): the default shows, marked as not set.
            try Data(#"{"model": "small"}"#.utf8).write(to: URL(fileURLWithPath: "\(deployment.root)/config/marie.json"))
            let bare = try await deployment.run(["config", "--worker", "marie", "--json"])
            let bareObject = bare.json as? [String: Any]
            #expect((bareObject?["config"] as? [String: Any])?["batch_size"] as? Int == 10, "\(bare)")
            #expect(
                bareObject?["defaulted"] as? [String]
                    == ["batch_size", "completed_max_age_seconds", "completed_max_count", "failed_max_age_seconds", "failed_max_count"],
                "\(bare)"
            )
            #expect(bareObject?["unknown_keys"] as? [String] == ["model"], "\(bare)")
            let text = try await deployment.run(["config", "--worker", "marie"])
            #expect(text.stdout.contains("default (not set in the file)"), "\(text)")
        }
    }

    @Test func anUnknownKeyIsRefusedWithASuggestion() async throws {
        try await TestDeployment.with { deployment in
            try await deployment.startSidecar("marie")
            let typo = try await deployment.run(["config", "--worker", "marie", "batch-size=5"])
            #expect(typo.status == 2, "\(typo)")
            #expect(typo.stderr.contains("unknown config key \"batch-size\" (did you mean batch_size?)"), "\(typo)")
            #expect(typo.stderr.contains("--allow-unknown"), "\(typo)")
            let file = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(deployment.root)/config/marie.json"))) as? [String: Any]
            #expect(file?["batch-size"] == nil, "nothing stored")

            let own = try await deployment.run(["config", "--worker", "marie", "--allow-unknown", "model=\"small\""])
            #expect(own.status == 0, "\(own)")
            #expect(own.stdout.split(separator: "\n").contains { $0.hasPrefix("model ") && $0.contains("not read by pipebus") }, "\(own)")
        }
    }

    /// With the sidecar down, `config` reads the file itself and says so; a change is refused.
    @Test func aSidecarThatIsDownLeavesTheFileToRead() async throws {
        try await TestDeployment.with { deployment in
            try await deployment.startSidecar("marie")
            #expect(try await deployment.run(["config", "--worker", "marie", "batch_size=4"]).status == 0)
            await deployment.stopSidecar("marie")

            let shown = try await deployment.run(["config", "--worker", "marie", "--json"])
            #expect(shown.status == 0, "\(shown)")
            let object = shown.json as? [String: Any]
            #expect(object?["source"] as? String == "file", "\(shown)")
            #expect((object?["config"] as? [String: Any])?["batch_size"] as? Int == 4, "\(shown)")
            #expect(shown.stderr.contains("not reachable"), "\(shown)")
            #expect(shown.stderr.contains("as it is on disk"), "\(shown)")

            let change = try await deployment.run(["config", "--worker", "marie", "batch_size=2"])
            #expect(change.status == 1, "\(change)")
            #expect(change.stderr.contains("nothing changed"), "\(change)")
        }
    }
}
