/// Pure parsers of the /proc files `ResourceSampler` reads, on raw bytes (no `String` per field:
/// a sample reads every process's stat file, and the sidecar's idle CPU budget is under 1 %).
enum ProcParser {
    /// The fields of /proc/<pid>/stat that the sampler uses.
    struct ProcessStat: Equatable {
        var parentPID: Int32
        /// utime + stime + cutime + cstime, in clock ticks: own CPU plus that of reaped children.
        var cpuTicks: UInt64
        /// When the process started, in clock ticks since boot; with the pid, identifies it.
        var startTicks: UInt64
        var rssPages: UInt64
    }

    /// Parses /proc/<pid>/stat. The command name (field 2) is in parentheses and may itself hold
    /// spaces and parentheses, so fields are counted from the LAST `)`.
    static func processStat(_ bytes: [UInt8]) -> ProcessStat? {
        guard let close = bytes.lastIndex(of: UInt8(ascii: ")")) else { return nil }
        let fields = fields(bytes[(close + 1)...])
        // fields[0] is field 3 (state); field n of proc(5) is fields[n - 3].
        guard fields.count > 21,
            let parent = number(fields[1]),
            let utime = number(fields[11]), let stime = number(fields[12]),
            let startTicks = number(fields[19]), let rss = number(fields[21])
        else { return nil }
        // cutime and cstime are signed in the kernel's format; a negative value never happens in
        // practice, and is read as 0 rather than failing the whole process.
        let children = (number(fields[13]) ?? 0) + (number(fields[14]) ?? 0)
        return ProcessStat(
            parentPID: Int32(truncatingIfNeeded: parent),
            cpuTicks: utime + stime + children,
            startTicks: startTicks,
            rssPages: rss
        )
    }

    /// Busy and total jiffies of all CPUs from the first line of /proc/stat. Idle is idle + iowait;
    /// guest time is already counted in user, so only the first eight columns add up to the total.
    static func systemCPU(_ bytes: [UInt8]) -> (busy: UInt64, total: UInt64)? {
        let line = bytes.prefix { $0 != UInt8(ascii: "\n") }
        let fields = fields(line[...])
        guard fields.count >= 9, String(decoding: fields[0], as: UTF8.self) == "cpu" else { return nil }
        var columns: [UInt64] = []
        for field in fields[1...8] {
            guard let value = number(field) else { return nil }
            columns.append(value)
        }
        let total = columns.reduce(0, +)
        let idle = columns[3] + columns[4]
        return (total - idle, total)
    }

    /// `MemTotal − MemAvailable` from /proc/meminfo, in bytes.
    static func memoryUsed(_ bytes: [UInt8]) -> UInt64? {
        var total: UInt64?
        var available: UInt64?
        for line in bytes.split(separator: UInt8(ascii: "\n")) {
            let fields = fields(line)
            guard fields.count >= 2 else { continue }
            switch String(decoding: fields[0], as: UTF8.self) {
            case "MemTotal:": total = number(fields[1])
            case "MemAvailable:": available = number(fields[1])
            default: continue
            }
            if total != nil && available != nil { break }
        }
        guard let total, let available, total >= available else { return nil }
        return (total - available) * 1024
    }

    /// Reads plus writes completed by whole physical disks since boot, from /proc/diskstats.
    /// Partitions are left out (their I/O is already in their disk's line), and so are virtual
    /// devices (loop, ram, zram, device-mapper, md, optical), whose I/O lands on a physical disk
    /// too or never reaches one.
    static func diskOperations(_ bytes: [UInt8]) -> UInt64? {
        var devices: [(name: String, operations: UInt64)] = []
        for line in bytes.split(separator: UInt8(ascii: "\n")) {
            let fields = fields(line)
            guard fields.count >= 8, let reads = number(fields[3]), let writes = number(fields[7]) else { continue }
            devices.append((String(decoding: fields[2], as: UTF8.self), reads + writes))
        }
        guard !devices.isEmpty else { return nil }
        let virtualPrefixes = ["loop", "ram", "zram", "dm-", "md", "sr", "fd", "nbd"]
        let disks = devices.filter { device in !virtualPrefixes.contains { device.name.hasPrefix($0) } }
        let names = Set(disks.map(\.name))
        // A partition is its disk's name plus a number (sda1, vda2), with a `p` between when the
        // disk's name ends in a digit (nvme0n1p1, mmcblk0p1; nvme0n10 is a disk, not a partition).
        func isPartition(_ name: String) -> Bool {
            names.contains { disk in
                guard name.count > disk.count, name.hasPrefix(disk) else { return false }
                var suffix = name.dropFirst(disk.count)
                if disk.last?.isNumber == true {
                    guard suffix.first == "p" else { return false }
                    suffix = suffix.dropFirst()
                }
                return !suffix.isEmpty && suffix.allSatisfy(\.isNumber)
            }
        }
        return disks.filter { !isPartition($0.name) }.reduce(0) { $0 + $1.operations }
    }

    /// `syscr + syscw` from /proc/<pid>/io: read and write system calls of the process.
    static func ioOperations(_ bytes: [UInt8]) -> UInt64? {
        var reads: UInt64?
        var writes: UInt64?
        for line in bytes.split(separator: UInt8(ascii: "\n")) {
            let fields = fields(line)
            guard fields.count >= 2 else { continue }
            switch String(decoding: fields[0], as: UTF8.self) {
            case "syscr:": reads = number(fields[1])
            case "syscw:": writes = number(fields[1])
            default: continue
            }
        }
        guard let reads, let writes else { return nil }
        return reads + writes
    }

    /// Whitespace-separated fields, as slices of the input.
    static func fields(_ bytes: ArraySlice<UInt8>) -> [ArraySlice<UInt8>] {
        bytes.split(whereSeparator: { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") || $0 == UInt8(ascii: "\n") })
    }

    /// A decimal unsigned number, or nil for anything else (a sign, an empty field, overflow).
    static func number(_ field: ArraySlice<UInt8>) -> UInt64? {
        guard !field.isEmpty else { return nil }
        var value: UInt64 = 0
        for byte in field {
            guard byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") else { return nil }
            let (shifted, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = shifted.addingReportingOverflow(UInt64(byte - UInt8(ascii: "0")))
            guard !overflow1 && !overflow2 else { return nil }
            value = sum
        }
        return value
    }
}
