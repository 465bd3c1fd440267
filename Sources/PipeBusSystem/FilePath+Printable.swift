import PipeBusCore
package import SystemPackage

extension FilePath {
    /// The path for logs and messages: invalid UTF-8 repaired, control characters escaped
    /// (`NameRule.escaped`), so that a hostile file name cannot forge a log line.
    package var printable: String { NameRule.escaped(description, quoted: false) }
}
