import PipeBusCore
public import PipeBusTasks

/// ListStream: a listing streamed in pages as the task files are read (proto/…/tasks.proto).
extension TaskService {
    /// When a page leaves (see ListStream in tasks.proto).
    struct Paging {
        var maxTasks = 64
        var maxBytes = 256 * 1024
        /// Files read between two looks at the client: the page so far is sent, and the
        /// connection gets a turn to read a CANCEL or see that the client went away.
        var filesBetweenTurns = 256
    }

    /// Streams the tasks `query` lists to `writer`. Stops, logging how far it got, when the
    /// client cancels, goes away or runs out of time.
    ///
    /// The handler runs on the connection's own thread, which reads the client's frames only
    /// when the handler suspends or a write fills the output buffer; a listing that reads many
    /// files and sends few (a filter) therefore sleeps for a moment every `filesBetweenTurns`
    /// files, so that a cancellation is seen within that many files whatever the filter.
    static func stream(
        _ query: TaskListingQuery,
        of sidecar: Sidecar,
        to writer: ResponseWriter<Pipebus_Tasks_V1_TaskList>,
        context: ServerContext,
        paging: Paging = Paging()
    ) async throws {
        var listing = try sidecar.taskListing(query)
        var page: [Pipebus_Tasks_V1_Task] = []
        var pageBytes = 0
        var sent = 0
        var filesAtLastTurn = 0
        let deadline = context.deadline
        func send() async throws {
            guard !page.isEmpty else { return }
            try await writer.write(Pipebus_Tasks_V1_TaskList(tasks: page))
            sent += page.count
            page.removeAll(keepingCapacity: true)
            pageBytes = 0
        }
        do {
            while true {
                if listing.filesRead - filesAtLastTurn >= paging.filesBetweenTurns {
                    filesAtLastTurn = listing.filesRead
                    try await send()
                    try await Task.sleep(for: .microseconds(1))
                }
                let record = try listing.next {
                    try Task.checkCancellation()
                    if let deadline, ContinuousClock.now >= deadline {
                        throw RPCError(code: .deadlineExceeded, message: "deadline exceeded while listing tasks")
                    }
                }
                guard let record else { break }
                pageBytes += record.json.count
                page.append(Pipebus_Tasks_V1_Task(record))
                if page.count >= paging.maxTasks || pageBytes >= paging.maxBytes { try await send() }
            }
            try await send()
        } catch {
            sidecar.logger.info(
                "task listing stopped: \(Self.reason(error))",
                metadata: ["tasks_sent": "\(sent)", "files_read": "\(listing.filesRead)", "peer": "\(context.peerName)"]
            )
            throw error
        }
        sidecar.logger.debug("task listing sent", metadata: ["tasks_sent": "\(sent)", "files_read": "\(listing.filesRead)"])
    }

    private static func reason(_ error: any Error) -> String {
        switch error {
        case is CancellationError: "the client cancelled the call or went away"
        case let error as RPCError where error.code == .cancelled: "the client cancelled the call or went away"
        case let error as RPCError: error.message
        default: "\(error)"
        }
    }
}

extension TaskListingQuery {
    /// The query a ListStream request asks for.
    public init(_ request: Pipebus_Tasks_V1_ListStreamRequest) {
        self.init()
        if let state = TaskState(request.state) { states = [state] }
        if request.olderThanMs > 0 { olderThan = .milliseconds(Int64(clamping: request.olderThanMs)) }
        if request.enteredWithinMs > 0 { enteredWithin = .milliseconds(Int64(clamping: request.enteredWithinMs)) }
        if !request.correlationID.isEmpty { correlationID = request.correlationID }
        oldestFirst = request.oldestFirst
        if request.limit > 0 { limit = Int(request.limit) }
    }
}
