public import Foundation
public import PipeBusCore
public import PipeBusTasks
public import Prometheus
import Synchronization

/// The sidecar's Prometheus metrics: the runbook's contract names plus `pipebus_*` extras, all
/// labelled `worker` and `instance` (the host-wide `system_*` ones also `host`), and never by task
/// or correlation id (unbounded label values would grow Prometheus' index with every task).
///
/// Task and resource metrics live in a `PrometheusCollectorRegistry`, each created with a help text
/// (the swift-metrics bridge emits no HELP, which promtool rejects). The pipe metrics stay in
/// PipeBusCore's lock-free `TransportMetrics` and are rendered from it at scrape time.
public final class SidecarMetrics: Sendable {
    public let worker: String
    public let instance: String
    /// The machine the `system_*` gauges describe, their `host` label: every sidecar on a host
    /// repeats the same figures, so dashboards take `max by (host)` rather than a sum.
    public let host: String
    /// The registry the task and resource metrics live in; the sidecar may add its own to it.
    public let registry: PrometheusCollectorRegistry
    let transport: TransportMetrics

    /// `worker` then `instance`: the labels every series carries.
    let baseLabels: [(String, String)]
    /// `baseLabels` plus `host`, for the host-wide `system_*` families.
    let hostLabels: [(String, String)]

    private let activeTasks: Gauge
    private let queueDepth: Gauge
    private let tasksFailed: Counter
    private let tasksSubmitted: Counter
    private let tasksCompleted: Counter
    private let processingDuration: ValueHistogram
    private let queueWait: ValueHistogram
    private let claudeAPIErrors: Counter
    private let claudeMemory: Gauge
    private let systemCPU: Gauge
    private let systemMemory: Gauge
    private let heartbeatTimestamp: Gauge
    private let up: Gauge
    private let serving: Gauge
    private let oldestActiveAge: Gauge

    /// The last `system_io_operations_total` read from the kernel; rendered at scrape time because
    /// the kernel's count is already cumulative (nil until the first sample that could read it).
    let systemIOOperations = Mutex<UInt64?>(nil)

    /// Buckets for work that takes seconds to minutes; 30 s is a bound because the runbook alerts
    /// on a P95 above it.
    public static let processingBuckets: [Double] = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30, 60, 120, 300, 600]

    /// Buckets for the time a task waits in `pending/`: from a pickup within milliseconds to a
    /// backlog of minutes.
    public static let queueWaitBuckets: [Double] = [
        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600,
    ]

    /// `host` defaults to the machine's short host name.
    public init(worker: String, instance: String, host: String? = nil, transport: TransportMetrics) {
        self.worker = worker
        self.instance = instance
        let host = host ?? Sidecar.defaultInstance
        self.host = host
        self.transport = transport
        let registry = PrometheusCollectorRegistry()
        let labels = [("worker", worker), ("instance", instance)]
        self.registry = registry
        self.baseLabels = labels
        self.hostLabels = labels + [("host", host)]

        func gauge(_ name: String, _ help: String) -> Gauge {
            registry.makeGauge(descriptor: Self.descriptor(name, help), labels: labels)
        }
        func counter(_ name: String, _ help: String) -> Counter {
            registry.makeCounter(descriptor: Self.descriptor(name, help), labels: labels)
        }
        activeTasks = gauge("active_tasks", "Tasks in the worker's active/ folder.")
        queueDepth = gauge("task_queue_depth", "Tasks waiting in the worker's pending/ folder.")
        tasksFailed = counter("task_failed_total", "Tasks that moved to failed/.")
        tasksSubmitted = counter("pipebus_tasks_submitted_total", "Tasks accepted into pending/.")
        tasksCompleted = counter("pipebus_tasks_completed_total", "Tasks that moved to completed/.")
        processingDuration = registry.makeValueHistogram(
            descriptor: Self.descriptor(
                "task_processing_duration_seconds",
                "Time from active/ to completed/ or failed/, in seconds."
            ),
            labels: labels,
            buckets: Self.processingBuckets
        )
        queueWait = registry.makeValueHistogram(
            descriptor: Self.descriptor(
                "pipebus_task_queue_wait_seconds",
                "Time from pending/ to active/, in seconds."
            ),
            labels: labels,
            buckets: Self.queueWaitBuckets
        )
        claudeAPIErrors = counter("claude_api_errors_total", "Failed invocations of the worker's Claude process.")
        claudeMemory = gauge("claude_memory_usage_bytes", "Resident memory of the worker's process tree, in bytes.")
        systemCPU = registry.makeGauge(
            descriptor: Self.descriptor("system_cpu_usage_percent", "Busy CPU of the whole machine, in percent of all CPUs."),
            labels: hostLabels
        )
        systemMemory = registry.makeGauge(
            descriptor: Self.descriptor("system_memory_usage_bytes", "MemTotal minus MemAvailable of the machine, in bytes."),
            labels: hostLabels
        )
        heartbeatTimestamp = gauge(
            "pipebus_heartbeat_timestamp_seconds",
            "Unix time of the sidecar's last heartbeat, in seconds."
        )
        up = gauge("pipebus_worker_up", "1 while the worker is running and healthy, else 0.")
        serving = gauge("pipebus_health_serving", "1 while the sidecar's health is SERVING, else 0 (NOT_SERVING).")
        oldestActiveAge = gauge(
            "pipebus_oldest_active_task_age_seconds",
            "Time the oldest task in active/ has been there, in seconds (0 when none is)."
        )
        // At 0 from the start, so that `rate()` sees the first archived tasks.
        for state in [TaskState.completed, .failed] { _ = archivedCounter(state) }
    }

    /// Counts a task accepted into `pending/`.
    public func taskSubmitted() {
        tasksSubmitted.increment()
    }

    /// Records one task state transition, labelled by folder name (`TaskState`: a bounded set of
    /// values, never a task or correlation id). Pass `processingSeconds` on
    /// `active → completed|failed` and `queueWaitSeconds` on `pending → active`; each is recorded
    /// only on its own transition.
    public func transition(from: TaskState, to: TaskState, processingSeconds: Double?, queueWaitSeconds: Double?) {
        // The registry hands back the existing counter for a label set it has seen: the lookup is a
        // lock and a hash, cheap at task rates.
        registry.makeCounter(
            descriptor: Self.descriptor(
                "pipebus_task_transitions_total",
                "Task state transitions, by source and destination folder."
            ),
            labels: baseLabels + [("from", from.folderName), ("to", to.folderName)]
        ).increment()
        switch (from, to) {
        case (.active, .completed), (.active, .failed):
            if let processingSeconds, processingSeconds >= 0 { processingDuration.record(processingSeconds) }
        case (.pending, .active):
            if let queueWaitSeconds, queueWaitSeconds >= 0 { queueWait.record(queueWaitSeconds) }
        default:
            break
        }
        if to == .failed { tasksFailed.increment() }
        if to == .completed { tasksCompleted.increment() }
    }

    /// Counts `count` tasks moved from `state`'s folder to the archive by retention.
    public func tasksArchived(_ count: Int, from state: TaskState) {
        archivedCounter(state).increment(by: Int64(count))
    }

    private func archivedCounter(_ state: TaskState) -> Counter {
        registry.makeCounter(
            descriptor: Self.descriptor(
                "task_archived_total",
                "Finished tasks moved from completed/ or failed/ to the archive by retention, by state."
            ),
            labels: baseLabels + [("state", state.folderName)]
        )
    }

    public func setQueueDepth(_ depth: Int) {
        queueDepth.set(Double(depth))
    }

    public func setActiveTasks(_ count: Int) {
        activeTasks.set(Double(count))
    }

    /// Counts `count` failed invocations of the worker's Claude process.
    public func claudeAPIErrors(_ count: Int) {
        guard count > 0 else { return }
        claudeAPIErrors.increment(by: Int64(count))
    }

    public func heartbeat(at date: Date) {
        heartbeatTimestamp.set(date.timeIntervalSince1970)
    }

    public func workerUp(_ isUp: Bool) {
        up.set(isUp ? 1.0 : 0.0)
    }

    /// The sidecar's own health (grpc.health.v1 `""`), for the NOT_SERVING alert.
    public func serving(_ isServing: Bool) {
        serving.set(isServing ? 1.0 : 0.0)
    }

    /// The age in its state of the oldest task in `active/`, as `pipebus status` shows it.
    public func oldestActiveTaskAge(seconds: Double) {
        oldestActiveAge.set(max(0, seconds))
    }

    /// Publishes a `ResourceSampler` reading; fields the sampler could not read keep their last value.
    public func resourceSample(_ sample: ResourceSample) {
        if let rss = sample.treeRSSBytes { claudeMemory.set(Double(rss)) }
        if let cpu = sample.systemCPUPercent { systemCPU.set(cpu) }
        if let memory = sample.systemMemoryUsedBytes { systemMemory.set(Double(memory)) }
        if let operations = sample.systemIOOperationsTotal { systemIOOperations.withLock { $0 = operations } }
    }

    /// The exposition text for `/metrics` (Prometheus text format 0.0.4).
    public func render() -> String {
        registry.emitToString() + renderScrapeTimeFamilies()
    }

    /// A full metric name with its help text (the unit is already part of each contract name).
    static func descriptor(_ name: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name, unitName: "", helpText: help)
    }
}
