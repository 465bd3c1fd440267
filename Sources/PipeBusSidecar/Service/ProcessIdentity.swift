#if canImport(Glibc)
import Glibc
#endif

/// One process, told apart from any later process given the same pid: its pid, its start time
/// in clock ticks since boot (field 22 of /proc/<pid>/stat) and the boot it started in.
struct ProcessIdentity: Hashable, Sendable, CustomStringConvertible {
    var pid: Int32
    var startTicks: UInt64
    var bootID: String

    var description: String { "pid \(pid) (started at tick \(startTicks))" }

    /// This boot's id (/proc/sys/kernel/random/boot_id); empty when it cannot be read.
    static let currentBootID: String = {
        var buffer: [UInt8] = []
        let bytes = ProcFiles(root: "/proc").contents(of: "sys/kernel/random/boot_id", into: &buffer) ?? []
        return String(decoding: bytes.filter { $0 > 0x20 }, as: UTF8.self)
    }()

    /// The process with `pid` now, with its /proc stat; nil when there is none.
    static func of(_ pid: Int32, in files: ProcFiles = ProcFiles(root: "/proc")) -> (identity: ProcessIdentity, stat: ProcParser.ProcessStat)? {
        var buffer: [UInt8] = []
        guard pid > 0, let bytes = files.contents(of: "\(pid)/stat", into: &buffer), let stat = ProcParser.processStat(bytes) else {
            return nil
        }
        return (ProcessIdentity(pid: pid, startTicks: stat.startTicks, bootID: currentBootID), stat)
    }

    /// This process.
    static var current: ProcessIdentity? { of(getpid())?.identity }

    /// Whether this very process still runs (same pid, same start, same boot; not a zombie).
    var isRunning: Bool {
        guard bootID == Self.currentBootID, let now = Self.of(pid) else { return false }
        return now.identity.startTicks == startTicks && !now.stat.hasEnded
    }
}
