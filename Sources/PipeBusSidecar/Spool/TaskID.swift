import PipeBusCore

/// A task's identifier, checked before it becomes a file name in the spool (DESIGN §6).
///
/// 1–128 bytes of `[A-Za-z0-9._-]`, not starting with `.` (hidden names are reserved for the
/// spool's temp files), and without `..`. So no `/`, no NUL and nothing a shell or a path join
/// could misread.
public struct TaskID: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The longest id accepted, in bytes; `<id>_replay.json` still fits in a 255-byte file name.
    public static let maxLength = 128

    /// The id as written in file names and in the task's `id` key.
    public let rawValue: String

    /// Validates `rawValue`; throws INVALID_ARGUMENT naming the problem.
    public init(_ rawValue: String) throws {
        if let problem = Self.problem(with: rawValue) {
            throw RPCError(code: .invalidArgument, message: "invalid task id \(Self.quoted(rawValue)): \(problem)")
        }
        self.rawValue = rawValue
    }

    private init(unchecked rawValue: String) {
        self.rawValue = rawValue
    }

    /// A fresh id, `task-<unix milliseconds>-<16 hex digits>`: sortable by submission time and
    /// unique without coordination between the sidecars that share a spool.
    public static func generate() -> TaskID {
        let milliseconds = SpoolClock.nowMilliseconds()
        let random = UInt64.random(in: .min ... .max)
        let hex = String(random, radix: 16)
        return TaskID(unchecked: "task-\(milliseconds)-\(String(repeating: "0", count: 16 - hex.count))\(hex)")
    }

    /// The file name of this task in a state folder.
    public var fileName: String { rawValue + ".json" }

    /// The id of a spool file name `<id>.json`, or nil when the name is not one.
    public init?(fileName: String) {
        guard fileName.hasSuffix(".json") else { return nil }
        let stem = String(fileName.dropLast(5))
        guard Self.problem(with: stem) == nil else { return nil }
        self.rawValue = stem
    }

    public var description: String { rawValue }

    public static func < (lhs: TaskID, rhs: TaskID) -> Bool { lhs.rawValue < rhs.rawValue }

    /// Why `candidate` is not a valid id, or nil when it is.
    /// Every name in a spool folder is checked at each heartbeat, so a valid id is recognised
    /// in one pass over its bytes; the checks that name the problem run only for an invalid one.
    /// (A `String.contains` of a string went through Foundation: most of a heartbeat's time in a
    /// spool of 64,000 tasks.)
    static func problem(with candidate: String) -> String? {
        let bytes = candidate.utf8
        if !bytes.isEmpty && bytes.count <= maxLength && bytes.first != UInt8(ascii: ".") && isPlainlyValid(bytes) {
            return nil
        }
        if bytes.isEmpty { return "it is empty" }
        if bytes.count > maxLength { return "it is \(bytes.count) bytes long; the limit is \(maxLength)" }
        if bytes.contains(0) { return "it contains a NUL byte" }
        if bytes.contains(UInt8(ascii: "/")) { return "it contains '/'" }
        if bytes.first == UInt8(ascii: ".") { return "it starts with '.'" }
        if zip(bytes, bytes.dropFirst()).contains(where: { $0 == UInt8(ascii: ".") && $1 == UInt8(ascii: ".") }) {
            return "it contains '..'"
        }
        if let bad = bytes.first(where: { !isAllowed($0) }) {
            return "it contains byte 0x\(String(bad, radix: 16)); only A-Z a-z 0-9 . _ - are allowed"
        }
        return nil
    }

    /// Only allowed bytes (so no NUL or '/'), and no "..".
    private static func isPlainlyValid(_ bytes: String.UTF8View) -> Bool {
        var afterDot = false
        for byte in bytes {
            guard isAllowed(byte) else { return false }
            let dot = byte == UInt8(ascii: ".")
            if dot && afterDot { return false }
            afterDot = dot
        }
        return true
    }

    private static func isAllowed(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
            true
        default:
            false
        }
    }

    /// The candidate for an error message: escaped and cut short, since it is untrusted input.
    private static func quoted(_ candidate: String) -> String {
        let shown = candidate.count > 40 ? String(candidate.prefix(40)) + "…" : candidate
        return SpoolPath.escaped(shown, quoted: true)
    }
}
