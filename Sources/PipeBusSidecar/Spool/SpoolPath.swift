import PipeBusCore

/// A path as the bytes the kernel sees.
///
/// Entries read from a spool folder may have names that are not UTF-8 (anyone can drop a file
/// there); a `String` would repair such a name into one that does not exist on disk, and the
/// entry could then be neither moved aside nor removed. Valid task names are ASCII.
struct SpoolPath: Hashable, Sendable, CustomStringConvertible {
    /// NUL-terminated.
    private(set) var cString: [CChar]

    init(_ path: String) {
        cString = Array(path.utf8CString)
    }

    /// `self/name`, `name` being one path component without its NUL.
    func appending(rawName: [CChar]) -> SpoolPath {
        var copy = self
        copy.cString.removeLast()
        copy.cString.append(CChar(UInt8(ascii: "/")))
        copy.cString.append(contentsOf: rawName)
        copy.cString.append(0)
        return copy
    }

    func appending(_ name: String) -> SpoolPath {
        appending(rawName: Array(name.utf8).map { CChar(bitPattern: $0) })
    }

    func withCString<Result>(_ body: (UnsafePointer<CChar>) throws -> Result) rethrows -> Result {
        try cString.withUnsafeBufferPointer { try body($0.baseAddress!) }
    }

    /// The path for logs and messages: invalid UTF-8 repaired, control characters escaped.
    var description: String {
        Self.escaped(String(decoding: cString.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self), quoted: false)
    }

    /// Escapes control characters so that an untrusted name cannot forge a log line.
    static func escaped(_ text: String, quoted: Bool) -> String {
        NameRule.escaped(text, quoted: quoted)
    }
}
