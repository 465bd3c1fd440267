import Foundation

/// How long a test waits for a sidecar it started to answer, from the task files in its spool.
///
/// A sidecar's start is linear in the spool: recovery reads every task file once, and the
/// recent arrivals and the watcher list the folders. A debug build on a shared 2-core machine
/// (load 9–12) answered after 5 s with 5,000 completed tasks and 40 s with 40,000: ~1 ms a
/// file, so a fixed 10 s (or 30 s) fails where nothing is wrong once the load rises further.
/// The wait is a failure bound, not a performance figure: a start that hangs still fails, only
/// later on a big spool.
public enum SidecarStartup {
    /// The wait with no task files.
    public static let base: Duration = .seconds(10)
    /// The wait added for each task file: twenty times the wall time a file measured (at load
    /// 16, with a sanitizer build beside it, 10,000 padded files did not answer within 5 ms each).
    public static let perTaskFile: Duration = .milliseconds(20)

    /// `base` plus `perTaskFile` for each task file now in `tasksDirectory`'s state folders
    /// (`<root>/tasks/<worker>`); names are counted, no file is read.
    public static func timeout(tasksDirectory: String) -> Duration {
        let files = ["pending", "active", "completed", "failed"].reduce(0) { sum, state in
            sum + ((try? FileManager.default.contentsOfDirectory(atPath: "\(tasksDirectory)/\(state)"))?.count ?? 0)
        }
        return base + perTaskFile * files
    }
}
