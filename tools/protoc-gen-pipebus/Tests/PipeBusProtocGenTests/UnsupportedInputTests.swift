import Foundation
import PipeBusProtocGen
import Testing

/// What the generator cannot map is refused with a message naming the element, never mapped
/// wrongly.
@Suite struct UnsupportedInputTests {
    static let cases: [(proto: String, expected: String)] = [
        ("syntax = \"proto2\"; package p; message M { optional int32 a = 1; }", "only proto3"),
        ("syntax = \"proto3\"; package p; message M { oneof o { int32 a = 1; string b = 2; } }", "p.M: oneof"),
        ("syntax = \"proto3\"; package p; message M { map<string, string> m = 1; }", "p.M.m: map fields"),
        ("syntax = \"proto3\"; package p;\n// pipebus: raw\nmessage M { int32 a = 1; }", "p.M: a `pipebus: raw` message"),
        ("syntax = \"proto3\"; package p; message M { repeated int32 a = 1; // pipebus: max_count lots\n}", "p.M.a: `pipebus: max_count` needs a positive count"),
        ("syntax = \"proto3\"; package p; message M { message N {} } service S { rpc R(M.N) returns (M); }", "p.S.R: a method's messages must be top-level"),
        ("syntax = \"proto3\"; package p; message M {} service S {\n// pipebus: inline\nrpc R(M) returns (stream M); }", "p.S.R: only a unary method can be `pipebus: inline`"),
        ("syntax = \"proto3\"; package p; enum E { option allow_alias = true; A = 0; B = 0; }", "p.E: enum aliases"),
    ]

    @Test(arguments: cases.indices)
    func refusedWithAClearMessage(index: Int) throws {
        let (proto, expected) = Self.cases[index]
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("unsupported-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try proto.write(to: folder.appendingPathComponent("case.proto"), atomically: true, encoding: .utf8)
        do {
            let output = try Golden.generate("case.proto", in: folder)
            Issue.record("generated code for an unsupported input:\n\(output.prefix(300))")
        } catch let error as GeneratorError {
            #expect(error.description.contains(expected), "\(error.description)")
        }
    }

    @Test func unknownOptionsAreRefused() {
        #expect(throws: GeneratorError.self) { try GeneratorOptions(parameter: [(key: "Visiblity", value: "public")]) }
        #expect(throws: GeneratorError.self) { try GeneratorOptions(parameter: [(key: "Visibility", value: "open")]) }
        #expect((try? GeneratorOptions(parameter: [(key: "Visibility", value: "internal"), (key: "CModule", value: "CTest")]))?.cModule == "CTest")
    }
}
