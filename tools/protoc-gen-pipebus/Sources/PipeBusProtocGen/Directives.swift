import SwiftProtobufPluginLibrary

/// What a `.proto` tells this generator beyond protobuf itself, as lines of a leading comment
/// that start with `pipebus:`:
///
/// - on an rpc, `pipebus: inline`: a unary handler that is quick and synchronous, run on the
///   server's reader thread (no task, no hop);
/// - on a message, `pipebus: raw`: its body on the wire is raw bytes, not a protobuf encoding
///   (the Swift type is `[UInt8]`);
/// - on a repeated field (leading or trailing comment), `pipebus: max_count N`: a body with more than N of it is refused with
///   RESOURCE_EXHAUSTED before protobuf-c unpacks it (default `Directives.defaultMaxCount`).
///
/// Comments, not custom options: a custom option needs `google/protobuf/descriptor.proto`
/// imported, and protoc-c then makes every importing file's C include a `descriptor.pb-c.h` that
/// libprotobuf-c does not ship. The directive lines are left out of the generated doc comments.
struct Directives {
    static let prefix = "pipebus:"
    /// Repeated fields a message may carry without a `max_count`.
    static let defaultMaxCount = 4096

    let words: [[Substring]]

    init(_ descriptor: some ProvidesSourceCodeLocation) {
        let location = descriptor.sourceCodeInfoLocation
        let comment = (location?.leadingComments ?? "") + "\n" + (location?.trailingComments ?? "")
        words = comment.split(separator: "\n").compactMap { line in
            let trimmed = line.drop(while: { $0 == " " })
            guard trimmed.hasPrefix(Self.prefix) else { return nil }
            return trimmed.dropFirst(Self.prefix.count).split(separator: " ")
        }
    }

    var isInline: Bool { words.contains { $0.first == "inline" } }
    var isRaw: Bool { words.contains { $0.first == "raw" } }

    func maxCount(field: String) throws -> Int? {
        guard let directive = words.first(where: { $0.first == "max_count" }) else { return nil }
        guard directive.count == 2, let count = Int(directive[1]), count > 0 else {
            throw GeneratorError("\(field): `pipebus: max_count` needs a positive count, e.g. `pipebus: max_count 4096`")
        }
        return count
    }

    /// The leading comment (or else the trailing one) as `///` lines, without the directive lines.
    static func docComment(_ descriptor: some ProvidesSourceCodeLocation, indent: String = "") -> [String] {
        let location = descriptor.sourceCodeInfoLocation
        let leading = location?.leadingComments ?? ""
        let comment = leading.isEmpty ? (location?.trailingComments ?? "") : leading
        var lines = comment.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            String(line.hasPrefix(" ") ? line.dropFirst() : line[...])
        }
        lines.removeAll { $0.drop(while: { $0 == " " }).hasPrefix(prefix) }
        while lines.last?.isEmpty == true { lines.removeLast() }
        while lines.first?.isEmpty == true { lines.removeFirst() }
        return lines.map { $0.isEmpty ? "\(indent)///" : "\(indent)/// \($0)" }
    }
}
