import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Where the command line writes: results on standard output, errors and progress on
/// standard error, JSON for scripts.
enum Console {
    /// Text on standard output, written at once (no stdio buffer: live views and the tests
    /// that read them see each line when it is printed).
    static func out(_ text: String, terminator: String = "\n") {
        FileHandle.standardOutput.write(Data((text + terminator).utf8))
    }

    /// A line on standard error (errors, progress of long operations).
    static func error(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    /// Whether standard output is a terminal (live tables redraw in place only there).
    static var isTerminal: Bool { isatty(1) == 1 }

    /// A JSON value as text: keys sorted; pretty unless `compact` (one line, for streams).
    static func jsonText(_ value: Any, compact: Bool = false) -> String {
        var options: JSONSerialization.WritingOptions = [.sortedKeys, .withoutEscapingSlashes, .fragmentsAllowed]
        if !compact { options.insert(.prettyPrinted) }
        guard let data = try? JSONSerialization.data(withJSONObject: value, options: options) else { return "null" }
        return String(decoding: data, as: UTF8.self)
    }

    /// Prints a JSON value on standard output.
    static func printJSON(_ value: Any, compact: Bool = false) {
        out(jsonText(value, compact: compact))
    }

    /// ANSI: cursor home, then each line cleared to its end, then the rest of the screen cleared,
    /// so a table redraws in place without flicker.
    static func redraw(_ text: String) {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let body = lines.map { $0 + "\u{1B}[K" }.joined(separator: "\n")
        out("\u{1B}[H" + body + "\n\u{1B}[J", terminator: "")
    }

    /// Clears the screen once, before the first redraw.
    static func clearScreen() {
        out("\u{1B}[H\u{1B}[2J", terminator: "")
    }
}
