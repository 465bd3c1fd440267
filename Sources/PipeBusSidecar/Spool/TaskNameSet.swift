/// The task names one state folder holds, as 64-bit fingerprints in a sorted array (8 bytes a
/// name) with two small sets of changes not merged yet, so that the spool watcher can tell a new
/// file from a rewrite with a million finished tasks in `completed/` without keeping a million
/// `String`s (a `Set<String>` of task file names costs ~130 bytes a name: 130 MB at 10⁶).
///
/// Why the counts stay exact: a fingerprint is the name's `hashValue` (SipHash-1-3 over its
/// UTF-8 bytes, keyed with a seed the runtime draws at random per process). A count is wrong
/// only if two different names of one folder share a fingerprint at the same time: one arrival
/// would then read as a rewrite. For n names the chance that any pair shares one is at most
/// n²/2⁶⁵ (2.7 × 10⁻⁸ at n = 10⁶), and because the key is secret and fresh per process, nobody
/// can choose names that collide. Everything else is exact: a removal removes the one
/// fingerprint its name has, and an insert of a name already there changes nothing. The counts
/// are re-seeded from a listing at start and after an inotify overflow, which clears any drift.
struct TaskNameSet: Sendable {
    /// Merged fingerprints, ascending, without duplicates.
    private var sorted: [UInt64] = []
    /// Inserted since the last merge, not in `sorted`.
    private var added: Set<UInt64> = []
    /// In `sorted` but removed since the last merge.
    private var removed: Set<UInt64> = []

    init() {}

    init<Names: Sequence<String>>(_ names: Names) {
        sorted = names.map(Self.fingerprint).sorted()
        sorted = Self.unique(sorted)
    }

    var count: Int { sorted.count + added.count - removed.count }

    func contains(_ name: String) -> Bool {
        contains(fingerprint: Self.fingerprint(name))
    }

    /// Adds `name`; false if it was there already (a rewrite).
    @discardableResult
    mutating func insert(_ name: String) -> Bool {
        let print = Self.fingerprint(name)
        if added.contains(print) { return false }
        if isMerged(print) {
            guard removed.remove(print) != nil else { return false }
        } else {
            added.insert(print)
        }
        mergeIfDue()
        return true
    }

    /// Removes `name`; false if it was not there.
    @discardableResult
    mutating func remove(_ name: String) -> Bool {
        let print = Self.fingerprint(name)
        if added.remove(print) != nil { return true }
        guard isMerged(print), removed.insert(print).inserted else { return false }
        mergeIfDue()
        return true
    }

    private func contains(fingerprint print: UInt64) -> Bool {
        added.contains(print) || (!removed.contains(print) && isMerged(print))
    }

    private func isMerged(_ print: UInt64) -> Bool {
        var low = 0
        var high = sorted.count
        while low < high {
            let middle = (low + high) / 2
            if sorted[middle] < print { low = middle + 1 } else { high = middle }
        }
        return low < sorted.count && sorted[low] == print
    }

    /// Folds the changes into `sorted` once they are a 64th of it (at least 1,024): each change
    /// then costs ~64 element copies amortized, and the sets stay small.
    private mutating func mergeIfDue() {
        guard added.count + removed.count > max(1024, sorted.count / 64) else { return }
        var merged: [UInt64] = []
        merged.reserveCapacity(count)
        let additions = added.sorted()
        var next = 0
        for print in sorted where !removed.contains(print) {
            while next < additions.count, additions[next] < print {
                merged.append(additions[next])
                next += 1
            }
            merged.append(print)
        }
        merged.append(contentsOf: additions[next...])
        sorted = merged
        added.removeAll()
        removed.removeAll()
    }

    private static func unique(_ sorted: [UInt64]) -> [UInt64] {
        var result: [UInt64] = []
        result.reserveCapacity(sorted.count)
        for print in sorted where result.last != print { result.append(print) }
        return result
    }

    static func fingerprint(_ name: String) -> UInt64 {
        UInt64(bitPattern: Int64(name.hashValue))
    }
}

extension TaskNameSet: ExpressibleByArrayLiteral {
    init(arrayLiteral names: String...) {
        self.init(names)
    }
}
