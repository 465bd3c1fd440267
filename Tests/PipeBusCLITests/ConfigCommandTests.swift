import Foundation
import Testing

@Suite struct ConfigCommandTests {
    @Test func setAndShowConfig() async throws {
        try await TestDeployment.with { deployment in
            try await deployment.startSidecar("marie")
            let set = try await deployment.run([
                "config", "--worker", "marie", "--json", "batch_size=3", "label=fast lane", "debug=true",
                "limits={\"max\": 2}",
            ])
            #expect(set.status == 0, "\(set)")
            let object = set.json as? [String: Any]
            #expect(object?["batch_size"] as? Int == 3, "\(set)")
            #expect(object?["label"] as? String == "fast lane")
            #expect(object?["debug"] as? Bool == true)
            #expect((object?["limits"] as? [String: Any])?["max"] as? Int == 2)

            let data = try Data(contentsOf: URL(fileURLWithPath: "\(deployment.root)/config/marie.json"))
            let file = try JSONSerialization.jsonObject(with: data) as? [String: Any]
            #expect(file?["batch_size"] as? Int == 3)

            let shown = try await deployment.run(["config", "--worker", "marie"])
            #expect(shown.status == 0, "\(shown)")
            #expect(
                shown.stdout.contains("\"batch_size\" : 3") || shown.stdout.contains("\"batch_size\": 3"),
                "\(shown)"
            )

            let status = try await deployment.run(["status", "--json"])
            let marie = (status.json as? [[String: Any]])?.first?["status"] as? [String: Any]
            #expect(marie?["batch_size"] as? Int == 3, "\(status)")

            let refused = try await deployment.run(["config", "--worker", "marie", "batch_size=0"])
            #expect(refused.status == 1, "\(refused)")
            #expect(refused.stderr.contains("batch_size"), "\(refused)")
        }
    }
}
