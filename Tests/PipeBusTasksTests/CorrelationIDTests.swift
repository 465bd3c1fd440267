import Foundation
import PipeBusTasks
import Testing

/// One format for the ids pipebus makes up, whichever way a task came in: `corr-<UUID>`, lower
/// case, as a Python orchestrator writes `f"corr-{uuid.uuid4()}"`.
@Suite struct CorrelationIDTests {
    @Test func generatedIDsAreLowerCaseUUIDsAfterThePrefix() throws {
        let ids = (0..<1000).map { _ in CorrelationID.generate() }
        #expect(Set(ids).count == ids.count)
        for id in ids {
            #expect(id.hasPrefix("corr-"))
            let uuid = String(id.dropFirst(5))
            #expect(UUID(uuidString: uuid) != nil, "\(id)")
            #expect(uuid == uuid.lowercased())
            #expect(uuid.count == 36)
        }
    }
}
