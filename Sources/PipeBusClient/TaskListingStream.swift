public import PipeBusCore

/// The tasks of a streamed listing (`SidecarClient.withTaskListing`), one at a time as the
/// sidecar reads them: the pages it sends (`Tasks.TaskList`) flattened.
public struct TaskListingStream: AsyncSequence, Sendable {
    public typealias Element = Tasks.TaskInfo
    let pages: ResponseStream<Tasks.TaskList>

    public struct AsyncIterator: AsyncIteratorProtocol {
        var pages: ResponseStream<Tasks.TaskList>.AsyncIterator
        var page: [Tasks.TaskInfo] = []
        var index = 0

        public mutating func next() async throws -> Tasks.TaskInfo? {
            while index == page.count {
                guard let next = try await pages.next() else { return nil }
                page = next.tasks
                index = 0
            }
            defer { index += 1 }
            return page[index]
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(pages: pages.makeAsyncIterator()) }
}
