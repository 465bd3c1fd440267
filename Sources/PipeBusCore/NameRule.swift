/// The rules for names that become one path component under the root (DESIGN §6): worker,
/// instance and connection names, and task ids. The one place they are checked, by the sidecar,
/// the client, the CLI and the pipe server alike (the Python package's `valid_name` agrees).
///
/// In Core, not with the task contracts, because the pipe transport checks connection ids and
/// names a sidecar's instances, and it does not depend on the task module.
public struct NameRule: Hashable, Sendable {
    /// The longest name accepted, in bytes.
    public let maxLength: Int
    /// Whether `.` may appear (never first, never twice in a row).
    public let allowsDots: Bool

    /// A worker, an instance or a connection: 1–64 bytes of `A-Z a-z 0-9 _ -`, so it can never
    /// be a path, a hidden file or a traversal.
    public static let component = NameRule(maxLength: 64, allowsDots: false)

    /// A task id: 1–128 bytes of `A-Z a-z 0-9 . _ -`, not starting with `.` (hidden names are
    /// the spool's temp files) and without `..`; `<id>_replay.json` still fits in a 255-byte
    /// file name.
    public static let taskID = NameRule(maxLength: 128, allowsDots: true)

    /// Whether `candidate` follows the rule.
    ///
    /// One pass over the bytes: every name in a spool folder is checked at each heartbeat (a
    /// `String.contains` of a string went through Foundation: most of a heartbeat's time in a
    /// spool of 64,000 tasks).
    public func accepts(_ candidate: String) -> Bool {
        let bytes = candidate.utf8
        guard !bytes.isEmpty, bytes.count <= maxLength, bytes.first != UInt8(ascii: ".") else { return false }
        var afterDot = false
        for byte in bytes {
            guard isAllowed(byte) else { return false }
            let dot = byte == UInt8(ascii: ".")
            if dot && afterDot { return false }
            afterDot = dot
        }
        return true
    }

    /// Why `candidate` breaks the rule, or nil when it follows it.
    public func problem(with candidate: String) -> String? {
        if accepts(candidate) { return nil }
        let bytes = candidate.utf8
        if bytes.isEmpty { return "it is empty" }
        if bytes.count > maxLength { return "it is \(bytes.count) bytes long; the limit is \(maxLength)" }
        if bytes.contains(0) { return "it contains a NUL byte" }
        if bytes.contains(UInt8(ascii: "/")) { return "it contains '/'" }
        if bytes.first == UInt8(ascii: ".") { return "it starts with '.'" }
        if zip(bytes, bytes.dropFirst()).contains(where: { $0 == UInt8(ascii: ".") && $1 == UInt8(ascii: ".") }) {
            return "it contains '..'"
        }
        if let bad = bytes.first(where: { !isAllowed($0) }) {
            return "it contains byte 0x\(String(bad, radix: 16)); only \(allowedText) are allowed"
        }
        return nil
    }

    /// The allowed bytes, as `problem(with:)` names them.
    public var allowedText: String { allowsDots ? "A-Z a-z 0-9 . _ -" : "A-Z a-z 0-9 _ -" }

    private func isAllowed(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"):
            true
        case UInt8(ascii: "."):
            allowsDots
        default:
            false
        }
    }

    /// Untrusted text for a log line or an error message: control characters escaped (so a
    /// name cannot forge a line), and, with `quoted`, in double quotes with `"` escaped.
    public static func escaped(_ text: String, quoted: Bool) -> String {
        var out = quoted ? "\"" : ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"" where quoted: out += "\\\""
            case "\\": out += "\\\\"
            case _ where scalar.value < 0x20 || scalar.value == 0x7f:
                out += "\\u{\(String(scalar.value, radix: 16))}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return quoted ? out + "\"" : out
    }

    /// A rejected name for an error message: escaped, quoted and cut to 40 characters.
    public static func quoted(_ candidate: String) -> String {
        escaped(candidate.count > 40 ? String(candidate.prefix(40)) + "…" : candidate, quoted: true)
    }
}
