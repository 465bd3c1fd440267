import SwiftProtobufPluginLibrary

/// The generated text, indented by four spaces per level. A class, so the generator's helpers can
/// print from inside `indented` without exclusive access to the generator.
final class Printer {
    private var printer = CodePrinter(indent: "    ".unicodeScalars)

    var content: String { printer.content }

    func print(_ lines: String...) {
        for text in lines {
            for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
                printer.print(String(line), newlines: true)
            }
        }
    }

    func printIndented(_ lines: String...) {
        indented { for line in lines { print(line) } }
    }

    func indented(_ body: () throws -> Void) rethrows {
        printer.indent()
        defer { printer.outdent() }
        try body()
    }
}
