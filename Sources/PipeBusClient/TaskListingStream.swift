import PipeBusCore
public import PipeBusTasks

/// The tasks of a streamed listing (`SidecarClient.withTaskListing`), one at a time as the
/// sidecar reads them: the pages it sends (`Pipebus_Tasks_V1_TaskList`) flattened.
public struct TaskListingStream: AsyncSequence, Sendable {
    public typealias Element = Pipebus_Tasks_V1_Task
    let pages: ResponseStream<Pipebus_Tasks_V1_TaskList>

    public struct AsyncIterator: AsyncIteratorProtocol {
        var pages: ResponseStream<Pipebus_Tasks_V1_TaskList>.AsyncIterator
        var page: [Pipebus_Tasks_V1_Task] = []
        var index = 0

        public mutating func next() async throws -> Pipebus_Tasks_V1_Task? {
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
