import SwiftProtobufPluginLibrary

extension SwiftFileGenerator {
    /// A message's mapping to and from its protobuf-c struct and, for a top-level message (the
    /// only kind protoc-c gives pack and unpack functions), its `MessageCodable` conformance:
    /// bounded by a wire scan before protobuf-c allocates anything.
    func printProtobufCMapping(_ message: Descriptor) throws {
        let swiftName = namer.fullName(message: message)
        let cName = ProtobufCNames.typeName(fullName: message.fullName)
        let functions = ProtobufCNames.functionPrefix(fullName: message.fullName)
        let fields = message.fields.map { Field(descriptor: $0, namer: namer) }
        let isTopLevel = message.containingType == nil

        printer.print(isTopLevel ? "extension \(swiftName): MessageCodable {" : "extension \(swiftName) {")
        printer.indented {
            printer.print("\(glueVisibility) init(protobufC c: \(cName)) {")
            printer.indented {
                if fields.isEmpty {
                    printer.print("self.init()")
                } else {
                    printer.print("self.init(")
                    printer.indented {
                        for (index, field) in fields.enumerated() {
                            printer.print("\(field.name): \(field.readExpression())\(index == fields.count - 1 ? "" : ",")")
                        }
                    }
                    printer.print(")")
                }
            }
            printer.print("}", "")
            printer.print("\(glueVisibility) func fill(_ c: inout \(cName), arena: inout CArena) {")
            printer.indented {
                printer.print("\(functions)__init(&c)")
                for field in fields {
                    for line in field.fillStatements() { printer.print(line) }
                }
            }
            printer.print("}")
        }
        if isTopLevel {
            var scan = ["body"]
            let repeated = fields.filter(\.isRepeated)
            if !repeated.isEmpty {
                let limit = try repeated.map { try Directives($0.descriptor).maxCount(field: $0.descriptor.fullName) ?? Directives.defaultMaxCount }.max()!
                scan.append("repeatedFields: [\(repeated.map { String($0.descriptor.number) }.joined(separator: ", "))]")
                scan.append("limit: \(limit)")
            } else {
                scan.append("limit: 0")
            }
            scan.append("messageName: \"\(message.name)\"")
            let nested = fields.filter(\.isScannedSubmessage)
            if !nested.isEmpty {
                scan.append("nestedFields: [\(nested.map { String($0.descriptor.number) }.joined(separator: ", "))]")
            }
            printer.indented {
                printer.print("")
                printer.print("\(visibility) func serialize(into buffer: inout [UInt8]) {")
                printer.indented {
                    printer.print("var arena = CArena()", "var c = \(cName)()", "fill(&c, arena: &arena)", "ProtobufC.pack(&c, appendingTo: &buffer)")
                }
                printer.print("}", "")
                printer.print("\(visibility) init(serializedBytes body: UnsafeRawBufferPointer) throws {")
                printer.indented {
                    printer.print("try WireScan.check(\(scan.joined(separator: ", ")))")
                    printer.print("self = try ProtobufC.unpack(")
                    printer.indented {
                        printer.print(
                            "body,",
                            "name: \"\(message.name)\",",
                            "unpack: { \(functions)__unpack(nil, $0, $1) },",
                            "free: { \(functions)__free_unpacked($0, nil) }",
                        )
                    }
                    printer.print(") { Self(protobufC: $0) }")
                }
                printer.print("}")
            }
        }
        printer.print("}")
    }
}
