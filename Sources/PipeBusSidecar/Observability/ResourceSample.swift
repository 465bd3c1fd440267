/// One reading of the supervised worker's process tree and of the whole system, taken by
/// `ResourceSampler` from /proc. A field is nil when its source could not be read (no such
/// process, a /proc file hidden by the container), so a missing reading is never reported as 0.
public struct ResourceSample: Sendable, Equatable {
    /// How many processes the tree has: the root and its descendants. 0 when the root is gone.
    public var processCount: Int

    /// Resident memory of the whole tree, in bytes (→ `claude_memory_usage_bytes`).
    public var treeRSSBytes: UInt64?

    /// CPU the tree used since the previous sample, in percent of ONE CPU (as `top` shows it):
    /// a tree keeping both of two CPUs busy reads 200. Nil on the first sample of a tree.
    public var treeCPUPercent: Double?

    /// Read and write system calls of the tree's live processes (`syscr + syscw` from
    /// /proc/<pid>/io), when readable. Not a counter: it drops when a process exits.
    public var treeIOOperations: UInt64?

    /// Busy CPU of the whole machine since the previous sample, in percent of ALL CPUs (0–100),
    /// from /proc/stat (→ `system_cpu_usage_percent`).
    public var systemCPUPercent: Double?

    /// `MemTotal − MemAvailable` from /proc/meminfo, in bytes (→ `system_memory_usage_bytes`).
    public var systemMemoryUsedBytes: UInt64?

    /// Reads plus writes completed by the whole physical disks since boot, from /proc/diskstats
    /// (→ `system_io_operations_total`, a counter, so `rate(...[5m])` is disk operations per second).
    public var systemIOOperationsTotal: UInt64?

    public init(
        processCount: Int = 0,
        treeRSSBytes: UInt64? = nil,
        treeCPUPercent: Double? = nil,
        treeIOOperations: UInt64? = nil,
        systemCPUPercent: Double? = nil,
        systemMemoryUsedBytes: UInt64? = nil,
        systemIOOperationsTotal: UInt64? = nil
    ) {
        self.processCount = processCount
        self.treeRSSBytes = treeRSSBytes
        self.treeCPUPercent = treeCPUPercent
        self.treeIOOperations = treeIOOperations
        self.systemCPUPercent = systemCPUPercent
        self.systemMemoryUsedBytes = systemMemoryUsedBytes
        self.systemIOOperationsTotal = systemIOOperationsTotal
    }
}
