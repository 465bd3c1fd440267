import Testing

@testable import PipeBusSidecar

@Suite("InotifyBacklog")
struct InotifyBacklogTests {
    @Test("hands out what was appended, in order, all at once; an empty array after the wait times out")
    func inOrder() throws {
        let backlog = InotifyBacklog(limit: 100)
        #expect(backlog.take(waitingAtMost: .milliseconds(10))?.isEmpty == true)
        #expect(backlog.append([1, 2, 3][...]))
        #expect(backlog.append([4][...]))
        let chunks = try #require(backlog.take(waitingAtMost: nil))
        #expect(chunks.map(Self.bytes) == [[1, 2, 3], [4]])
    }

    @Test("past its limit the backlog becomes one overflow, and then fills again")
    func overflow() throws {
        let backlog = InotifyBacklog(limit: 10)
        #expect(backlog.append([UInt8](repeating: 1, count: 8)[...]))
        #expect(!backlog.append([UInt8](repeating: 2, count: 8)[...]))
        #expect(backlog.append([3][...]))
        let chunks = try #require(backlog.take(waitingAtMost: nil))
        #expect(chunks.map(Self.bytes) == [nil, [3]])
    }

    @Test("after stop, take returns nil and hands out nothing that is left")
    func stop() {
        let backlog = InotifyBacklog(limit: 10)
        #expect(backlog.append([1][...]))
        backlog.stop()
        #expect(backlog.take(waitingAtMost: nil) == nil)
    }

    /// A chunk's bytes; nil for an overflow.
    private static func bytes(_ chunk: InotifyBacklog.Chunk) -> [UInt8]? {
        if case .records(let bytes) = chunk { return bytes }
        return nil
    }
}
