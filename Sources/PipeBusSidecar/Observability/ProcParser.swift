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
        /// Field 5, the process group (a supervised worker leads its own).
        var processGroup: Int32 = 0
        /// Field 3: `Z` (zombie) or `X` (dead) is a process that runs no more, though it has a pid.
        var state: UInt8 = 0
        var hasEnded: Bool { state == UInt8(ascii: "Z") || state == UInt8(ascii: "X") }
    }

    /// Parses /proc/<pid>/stat. The command name (field 2) is in parentheses and may itself hold
    /// spaces and parentheses, so fields are counted from the LAST `)`.
    static func processStat(_ bytes: ArraySlice<UInt8>) -> ProcessStat? {
        guard let close = bytes.lastIndex(of: UInt8(ascii: ")")) else { return nil }
        // Field numbers as in proc(5); the state, field 3, is the first after the `)`. Scanned in
        // place rather than split into an array: this runs for every process on every sample.
        var state: UInt8 = 0
        var parent: UInt64?
        var group: UInt64?
        var utime: UInt64?
        var stime: UInt64?
        var cutime: UInt64?
        var cstime: UInt64?
        var startTicks: UInt64?
        var rss: UInt64?
        var field = 2
        var current: UInt64? = nil
        var inField = false
        func store() {
            switch field {
            case 4: parent = current
            case 5: group = current
            case 14: utime = current
            case 15: stime = current
            case 16: cutime = current
            case 17: cstime = current
            case 22: startTicks = current
            case 24: rss = current
            default: break
            }
        }
        for byte in bytes[(close + 1)...] {
            if byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\n") {
                if inField { store() }
                inField = false
                if field >= 24 { break }
                continue
            }
            if !inField {
                inField = true
                field += 1
                current = 0
                if field == 3 { state = byte }
            }
            if let value = current, byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") {
                let (shifted, overflow) = value.multipliedReportingOverflow(by: 10)
                current = overflow ? nil : shifted + UInt64(byte - UInt8(ascii: "0"))
            } else {
                current = nil  // not a plain unsigned number (the state letter, a negative value)
            }
        }
        if inField { store() }
        guard let parent, let utime, let stime, let startTicks, let rss else { return nil }
        // cutime and cstime are signed in the kernel's format; a negative value never happens in
        // practice, and is read as 0 rather than failing the whole process.
        let children = (cutime ?? 0) + (cstime ?? 0)
        return ProcessStat(
            parentPID: Int32(truncatingIfNeeded: parent),
            cpuTicks: utime + stime + children,
            startTicks: startTicks,
            rssPages: rss,
            processGroup: Int32(truncatingIfNeeded: group ?? 0),
            state: state
        )
    }

    /// Busy and total jiffies of all CPUs from the first line of /proc/stat. Idle is idle + iowait;
    /// guest time is already counted in user, so only the first eight columns add up to the total.
    static func systemCPU(_ bytes: ArraySlice<UInt8>) -> (busy: UInt64, total: UInt64)? {
        let line = bytes.prefix { $0 != UInt8(ascii: "\n") }
        let fields = fields(line)
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
    static func memoryUsed(_ bytes: ArraySlice<UInt8>) -> UInt64? {
        let values = keyedValues(bytes, keys: ["MemTotal:", "MemAvailable:"])
        guard let total = values["MemTotal:"], let available = values["MemAvailable:"], total >= available else {
            return nil
        }
        return (total - available) * 1024
    }

    /// Reads plus writes completed by whole physical disks since boot, from /proc/diskstats.
    /// Partitions are left out (their I/O is already in their disk's line), and so are virtual
    /// devices (loop, ram, zram, device-mapper, md, optical), whose I/O lands on a physical disk
    /// too or never reaches one.
    static func diskOperations(_ bytes: ArraySlice<UInt8>) -> UInt64? {
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
    static func ioOperations(_ bytes: ArraySlice<UInt8>) -> UInt64? {
        let values = keyedValues(bytes, keys: ["syscr:", "syscw:"])
        guard let reads = values["syscr:"], let writes = values["syscw:"] else { return nil }
        return reads + writes
    }

    /// The numbers after the given keys in a file of `Key: value [unit]` lines (meminfo, io),
    /// stopping once all are found.
    static func keyedValues(_ bytes: ArraySlice<UInt8>, keys: Set<String>) -> [String: UInt64] {
        var values: [String: UInt64] = [:]
        for line in bytes.split(separator: UInt8(ascii: "\n")) {
            let fields = fields(line)
            guard fields.count >= 2 else { continue }
            let key = String(decoding: fields[0], as: UTF8.self)
            guard keys.contains(key), let value = number(fields[1]) else { continue }
            values[key] = value
            if values.count == keys.count { break }
        }
        return values
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
