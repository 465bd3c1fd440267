import Foundation
import PipeBusTestSupport
import Testing

@Suite struct WatchCommandTests {
    @Test func printsTransitionsLive() async throws {
        try await TestDeployment.with { deployment in
            try await deployment.startPipeSidecar("marie")
            let watch = try CLI.start(["watch", "--worker", "marie", "--root", deployment.root])
            try await eventually("a heartbeat line") { watch.stdoutLines.contains { $0.contains("marie  heartbeat") } }
            try await deployment.submit("marie", #"{"duration_ms": 10}"#, id: "w-1")
            try await eventually("the task's transitions") {
                let lines = watch.stdoutLines
                return lines.contains { $0.contains("w-1  pending → active") }
                    && lines.contains { $0.contains("w-1  active → completed") }
            }
            #expect(await watch.terminate() == .code(0), "\(watch)")
        }
    }

    /// A JSON event line of a task completing, with its correlation id.
    static func isCompletedTransition(_ line: String) -> Bool {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any],
            let kind = object["kind"] as? String, let to = object["to"] as? String,
            let correlation = object["correlation_id"] as? String
        else { return false }
        return kind == "transition" && to == "completed" && correlation.hasPrefix("corr-")
    }

    @Test func jsonLinesAndNoSidecar() async throws {
        try await TestDeployment.with { deployment in
            try await deployment.startPipeSidecar("marie")
            let watch = try CLI.start([
                "watch", "--worker", "marie", "--json", "--transitions-only", "--root", deployment.root,
            ])
            // The watch is subscribed once it has connected; submit until its line appears.
            var submitted = 0
            try await eventually("a JSON transition line: \(watch)", every: .milliseconds(300)) {
                submitted += 1
                try await deployment.submit("marie", #"{"duration_ms": 10}"#, id: "j-\(submitted)")
                let lines = watch.stdoutLines
                #expect(!lines.contains { $0.contains("heartbeat") }, "--transitions-only")
                let found = lines.contains(where: Self.isCompletedTransition)
                return found
            }
            #expect(await watch.terminate() == .code(0))

            await deployment.stopSidecar("marie")
            let result = try await deployment.run(["watch", "--worker", "marie"])
            #expect(result.status == 1, "\(result)")
            #expect(result.stderr.contains("not reachable"), "\(result)")
        }
    }
}
