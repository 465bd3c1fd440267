import SwiftProtobufPluginLibrary

/// One field of a message: its Swift property and its protobuf-c member.
struct Field {
    enum Kind {
        case string, bytes, bool
        /// A number: its Swift type is also its C type.
        case number(String)
        /// The Swift enum's name and the C enum type's.
        case enumeration(swift: String, c: String)
        /// The Swift struct's name and the C struct's.
        case message(swift: String, c: String)
    }

    let descriptor: FieldDescriptor
    let name: String
    let kind: Kind
    let isRepeated: Bool
    let defaultValue: String

    init(descriptor: FieldDescriptor, namer: SwiftProtobufNamer) {
        self.descriptor = descriptor
        name = namer.messagePropertyNames(field: descriptor, prefixed: "", includeHasAndClear: false).name
        isRepeated = descriptor.isRepeated
        switch descriptor.type {
        case .string: kind = .string; defaultValue = "\"\""
        case .bytes: kind = .bytes; defaultValue = "[]"
        case .bool: kind = .bool; defaultValue = "false"
        case .double: kind = .number("Double"); defaultValue = "0"
        case .float: kind = .number("Float"); defaultValue = "0"
        case .int64, .sint64, .sfixed64: kind = .number("Int64"); defaultValue = "0"
        case .uint64, .fixed64: kind = .number("UInt64"); defaultValue = "0"
        case .int32, .sint32, .sfixed32: kind = .number("Int32"); defaultValue = "0"
        case .uint32, .fixed32: kind = .number("UInt32"); defaultValue = "0"
        case .enum:
            let type = descriptor.enumType!
            kind = .enumeration(swift: namer.fullName(enum: type), c: ProtobufCNames.typeName(fullName: type.fullName))
            defaultValue = ".\(namer.relativeName(enumValue: type.values.first { $0.number == 0 } ?? type.values[0]))"
        case .message:
            let type = descriptor.messageType!
            kind = .message(swift: namer.fullName(message: type), c: ProtobufCNames.typeName(fullName: type.fullName))
            defaultValue = "nil"
        case .group:
            preconditionFailure("groups are refused in validation")
        }
    }

    /// The C struct's member (`n_<member>` holds a repeated field's count).
    var member: String { ProtobufCNames.member(descriptor.name) }

    var elementType: String {
        switch kind {
        case .string: "String"
        case .bytes: "[UInt8]"
        case .bool: "Bool"
        case .number(let type): type
        case .enumeration(let swift, _): swift
        case .message(let swift, _): swift
        }
    }

    var swiftType: String {
        if isRepeated { return "[\(elementType)]" }
        if case .message = kind { return "\(elementType)?" }
        return elementType
    }

    var swiftDefault: String { isRepeated ? "[]" : defaultValue }

    /// The field is a submessage the wire scan looks into (one level; its own repeated fields
    /// would need their own counts, so a submessage with repeated fields is not scanned).
    var isScannedSubmessage: Bool {
        guard case .message = kind, let type = descriptor.messageType else { return false }
        return !type.fields.contains { $0.isRepeated }
    }

    /// Swift statements that set the C member from `self.<name>` (the C message is `c`, the
    /// arena `arena`).
    func fillStatements() -> [String] {
        let value = "self.\(name)"
        if isRepeated {
            var lines = ["c.n_\(member) = \(value).count"]
            switch kind {
            case .string: lines.append("c.\(member) = arena.cStrings(\(value))")
            case .bytes: lines.append("c.\(member) = arena.binaryData(\(value))")
            case .bool: lines.append("c.\(member) = arena.array(\(value).map { $0 ? 1 : 0 })")
            case .number: lines.append("c.\(member) = arena.array(\(value))")
            case .enumeration(_, let cType):
                lines.append("c.\(member) = arena.array(\(value).map { \(cType)(rawValue: .init(truncatingIfNeeded: $0.rawValue)) })")
            case .message(_, let cType):
                let structs = "\(name)Structs", pointers = "\(name)Pointers"
                lines = [
                    "let \(structs) = arena.allocate(\(cType).self, count: \(value).count)",
                    "let \(pointers) = arena.allocate(UnsafeMutablePointer<\(cType)>?.self, count: \(value).count)",
                    "for (index, element) in \(value).enumerated() {",
                    "    (\(structs) + index).initialize(to: \(cType)())",
                    "    element.fill(&\(structs)[index], arena: &arena)",
                    "    (\(pointers) + index).initialize(to: \(structs) + index)",
                    "}",
                    "c.n_\(member) = \(value).count",
                    "c.\(member) = \(pointers)",
                ]
            }
            return lines
        }
        switch kind {
        case .string: return ["if !\(value).isEmpty { c.\(member) = arena.cString(\(value)) }"]
        case .bytes: return ["c.\(member) = arena.bytes(\(value))"]
        case .bool: return ["c.\(member) = \(value) ? 1 : 0"]
        case .number: return ["c.\(member) = \(value)"]
        case .enumeration(_, let cType):
            return ["c.\(member) = \(cType)(rawValue: .init(truncatingIfNeeded: \(value).rawValue))"]
        case .message(_, let cType):
            return [
                "if let \(name) = \(value) {",
                "    let sub = arena.allocate(\(cType).self, count: 1)",
                "    sub.initialize(to: \(cType)())",
                "    \(name).fill(&sub.pointee, arena: &arena)",
                "    c.\(member) = sub",
                "}",
            ]
        }
    }

    /// A Swift expression for the field's value, read from the C message `c`.
    func readExpression() -> String {
        let member = "c.\(member)"
        if isRepeated {
            let count = "c.n_\(self.member)"
            switch kind {
            case .string: return "ProtobufC.strings(\(member), count: \(count))"
            case .bytes: return "ProtobufC.binaryData(\(member), count: \(count))"
            case .bool: return "ProtobufC.array(\(member), count: \(count)).map { $0 != 0 }"
            case .number: return "ProtobufC.array(\(member), count: \(count))"
            case .enumeration(let swift, _):
                return "ProtobufC.array(\(member), count: \(count)).map { \(swift)(rawValue: Int(Int32(truncatingIfNeeded: $0.rawValue))) }"
            case .message(let swift, _):
                return "(0..<\(count)).compactMap { \(member)[$0].map { \(swift)(protobufC: $0.pointee) } }"
            }
        }
        switch kind {
        case .string: return "ProtobufC.string(\(member))"
        case .bytes: return "ProtobufC.bytes(\(member))"
        case .bool: return "\(member) != 0"
        case .number: return member
        case .enumeration(let swift, _): return "\(swift)(rawValue: Int(Int32(truncatingIfNeeded: \(member).rawValue)))"
        case .message(let swift, _): return "\(member).map { \(swift)(protobufC: $0.pointee) }"
        }
    }
}
