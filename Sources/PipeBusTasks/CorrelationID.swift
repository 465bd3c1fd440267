import Foundation

/// The correlation id a task gets when its submitter gives none: `corr-<UUID>`, lower case,
/// e.g. `corr-3f2b8c1e-6d0a-4b7e-9a51-0c2d4e6f8a90`.
///
/// The one format, whichever way a task arrives (submitted over the pipe, or dropped into
/// `pending/`): the runbook's ids read `corr-…`, and a Python orchestrator writes
/// `f"corr-{uuid.uuid4()}"` (as `scripts/scale-out-throughput.py` does), so pipebus's own look
/// the same in a Loki query. A caller's own id is kept as given, whatever its form.
public enum CorrelationID {
    public static let prefix = "corr-"

    /// A fresh id: 122 random bits, unique without coordination between sidecars.
    public static func generate() -> String {
        prefix + UUID().uuidString.lowercased()
    }
}
