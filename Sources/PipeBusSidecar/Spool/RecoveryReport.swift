public import PipeBusTasks
/// What `TaskSpool.recover()` found and did on start.
public struct RecoveryReport: Hashable, Sendable {
    /// Valid task files per state, after the clean-up.
    public var counts: [TaskState: Int] = [:]
    /// Leftover temp files of interrupted writes that were removed.
    public var removedTemporaryFiles = 0
    /// Entries moved aside to `.quarantine/`.
    public var quarantined: [HostileEntry] = []

    public init() {}
}
