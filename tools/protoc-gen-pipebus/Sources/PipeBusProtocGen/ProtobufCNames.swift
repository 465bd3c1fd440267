/// The names protoc-c (protobuf-c 1.4) gives a message or enum, so the generated Swift can call
/// the generated C: `pipebus.tasks.v1.TaskList` is the struct `Pipebus__Tasks__V1__TaskList` with
/// the functions `pipebus__tasks__v1__task_list__init`, `__unpack` and `__free_unpacked`.
enum ProtobufCNames {
    /// The C type of a message or enum: each dotted part camel-cased, joined by `__`.
    static func typeName(fullName: String) -> String {
        parts(fullName).map(camel).joined(separator: "__")
    }

    /// The prefix of a message's C functions: each dotted part lower-cased with `_` before an
    /// upper-case letter that follows a lower-case one or a digit, joined by `__`.
    static func functionPrefix(fullName: String) -> String {
        parts(fullName).map(lower).joined(separator: "__")
    }

    /// A field's member in the C struct: its `.proto` name (protoc-c keeps it).
    static func member(_ fieldName: String) -> String { fieldName }

    private static func parts(_ fullName: String) -> [Substring] {
        fullName.split(separator: ".", omittingEmptySubsequences: true)
    }

    /// protoc-c's ToCamel: the first letter upper-cased, each `_` dropped and the letter after it
    /// upper-cased (`y_z` → `YZ`).
    private static func camel(_ part: Substring) -> String {
        var result = ""
        var upperNext = true
        for character in part {
            if character == "_" {
                upperNext = true
            } else if upperNext {
                result += character.uppercased()
                upperNext = false
            } else {
                result.append(character)
            }
        }
        return result
    }

    /// protoc-c's CamelToLower: `TaskList` → `task_list`, `Foo2Bar` → `foo2_bar`,
    /// `HTTPThing` → `httpthing`.
    private static func lower(_ part: Substring) -> String {
        var result = ""
        var previous: Character?
        for character in part {
            if character.isUppercase, let previous, !previous.isUppercase, previous != "_" {
                result += "_"
            }
            result += character.lowercased()
            previous = character
        }
        return result
    }
}
