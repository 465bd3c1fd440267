import Foundation
import Testing

@Suite struct DemoCommandTests {
    @Test func runsToCompletionAndLeavesNothingBehind() async throws {
        let root = NSTemporaryDirectory() + "pipebus-demo-test-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: root) }
        let result = try await CLI.run(["demo", "--duration", "6", "--root", root], timeout: .seconds(90))
        #expect(result.status == 0, "\(result)")
        for text in [
            "every sidecar is SERVING", "marie: SERVING", "/metrics  200 OK", "Moved stuck task: marie-stuck",
            "incident report", "no process left", "no FIFO left",
        ] {
            #expect(result.stdout.contains(text), "\(text) missing:\n\(result)")
        }
        let reports = try FileManager.default.contentsOfDirectory(atPath: "\(root)/incidents")
        #expect(reports.count == 1 && reports[0].hasSuffix("-slow-tasks.md"), "\(reports)")
        #expect(fifos(under: root).isEmpty, "\(fifos(under: root))")
        #expect(processes(mentioning: root).isEmpty, "\(processes(mentioning: root))")
    }
}
