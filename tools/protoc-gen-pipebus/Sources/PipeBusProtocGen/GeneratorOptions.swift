/// What `--pipebus_opt` (or `--pipebus_out=OPTIONS:DIR`) says, comma-separated `key=value` pairs:
///
/// - `Visibility=public|package|internal`: of the generated types and members (default public).
/// - `CModule=NAME`: the C module that holds protoc-c's code for these files (default CPipeBusProto).
public struct GeneratorOptions: Sendable, Hashable {
    public enum Visibility: String, Sendable, CaseIterable {
        case `public`, `package`, `internal`
    }

    public var visibility: Visibility = .public
    public var cModule = "CPipeBusProto"

    public init() {}

    public init(parameter pairs: [(key: String, value: String)]) throws {
        for (key, value) in pairs {
            switch key {
            case "Visibility":
                guard let visibility = Visibility(rawValue: value) else {
                    throw GeneratorError("Visibility=\(value): expected one of \(Visibility.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                self.visibility = visibility
            case "CModule":
                guard !value.isEmpty else { throw GeneratorError("CModule needs a module name") }
                cModule = value
            default:
                throw GeneratorError("unknown option \"\(key)\" (known: Visibility, CModule)")
            }
        }
    }
}

/// A reason the generator cannot make code for a `.proto`; protoc prints it with the file's name.
public struct GeneratorError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
