import Foundation
import PipeBusCore
import PipeBusTasks

/// Prints the tasks of `pipebus tasks` one by one as they arrive: table rows under a header
/// with fixed column widths (a stream cannot be measured first; a longer value widens its row
/// only), or, with `--json`, a JSON array with one task object per line.
struct TaskRowPrinter {
    let json: Bool
    private(set) var printed = 0
    private var ended = false
    private let now = Date()

    static let header = ["ID", "STATE", "IN STATE", "DURATION", "ATTEMPTS", "CORRELATION ID", "ERROR"]
    /// Wide enough for generated ids (`task-<ms>-<16 hex>`, 39) and UUID correlation ids (36).
    static let widths = [39, 9, 8, 8, 8, 36, 0]

    init(json: Bool) {
        self.json = json
    }

    mutating func print(_ task: Pipebus_Tasks_V1_Task) {
        if json {
            Console.out((printed == 0 ? "[\n" : ",\n") + Console.jsonText(task.jsonObject, compact: true), terminator: "")
        } else {
            if printed == 0 {
                Console.out(TextTable.line(Self.header, widths: Self.widths))
                Console.out(TextTable.rule(widths: Self.widths, header: Self.header))
            }
            Console.out(TextTable.line(task.row(now: now), widths: Self.widths))
        }
        printed += 1
    }

    /// Ends a listing that went through: closes the JSON array, or says that no task matched.
    mutating func end(emptyMessage: String) {
        guard !ended else { return }
        ended = true
        if json {
            Console.out(printed == 0 ? "[]" : "\n]")
        } else if printed == 0 {
            Console.out(emptyMessage)
        }
    }

    /// Ends a listing that failed (the error says why): what was printed stays valid JSON.
    mutating func abort() {
        guard !ended else { return }
        ended = true
        if json && printed > 0 { Console.out("\n]") }
    }
}
