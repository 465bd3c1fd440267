import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// What /proc says about a running process: its CPU time and resident memory.
enum ProcessSample {
    /// utime + stime in clock ticks (/proc/<pid>/stat fields 14 and 15).
    static func cpuTicks(_ pid: pid_t) throws -> Int {
        let text = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
        // After the command name, which is in parentheses and may contain spaces: fields[0] is
        // field 3 (state), so utime and stime are fields[11] and fields[12].
        guard let close = text.lastIndex(of: ")") else { throw TestFailure("unreadable /proc/\(pid)/stat: \(text)") }
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = Int(fields[11]), let system = Int(fields[12]) else {
            throw TestFailure("unreadable /proc/\(pid)/stat: \(text)")
        }
        return user + system
    }

    /// VmRSS in bytes (/proc/<pid>/status).
    static func residentBytes(_ pid: pid_t) throws -> Int {
        let text = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
            let kilobytes = Int(line.dropFirst(6).trimmingCharacters(in: .whitespaces).split(separator: " ")[0])
        else { throw TestFailure("no VmRSS in /proc/\(pid)/status") }
        return kilobytes * 1024
    }
}
