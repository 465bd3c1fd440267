import Foundation
import PipeBusProtocGen
import SwiftProtobuf
import SwiftProtobufPluginLibrary
import Testing

/// The generator's output for Golden/golden.proto (every feature it maps) is
/// Golden/golden.pipebus.swift, and every C name it uses is one protoc-c made.
@Suite struct GoldenFileTests {
    @Test func generatedSwiftMatchesTheGoldenFile() throws {
        let generated = try Golden.generate("golden.proto")
        let expected = try String(contentsOf: Golden.url("golden.pipebus.swift"), encoding: .utf8)
        if generated != expected {
            // To accept a deliberate change: PIPEBUS_UPDATE_GOLDEN=1 swift test.
            if ProcessInfo.processInfo.environment["PIPEBUS_UPDATE_GOLDEN"] == "1" {
                try generated.write(to: Golden.sourceURL("golden.pipebus.swift"), atomically: true, encoding: .utf8)
            }
            let firstDifference = zip(generated.split(separator: "\n", omittingEmptySubsequences: false), expected.split(separator: "\n", omittingEmptySubsequences: false))
                .enumerated().first { $0.element.0 != $0.element.1 }
            Issue.record("generated code differs from Golden/golden.pipebus.swift at line \((firstDifference?.offset ?? -1) + 1): \(String(describing: firstDifference?.element))")
        }
    }

    @Test func everyCNameTheSwiftUsesIsInProtocCsHeader() throws {
        let generated = try Golden.generate("golden.proto")
        let header = try Golden.protocCHeader("golden.proto")
        let cTypes = Set(generated.matches(of: /\b[A-Z][A-Za-z0-9]*(?:__[A-Z][A-Za-z0-9]*)+\b/).map { String($0.output) })
        let cFunctions = Set(generated.matches(of: /\b[a-z][a-z0-9_]*__[a-z0-9_]+__(?:init|unpack|free_unpacked)\b/).map { String($0.output) })
        #expect(cTypes.count >= 6)
        #expect(cFunctions.count >= 10)
        for name in cTypes.union(cFunctions) {
            #expect(header.contains(name), "protoc-c made no \(name)")
        }
        for member in ["n_inners", "n_texts", "user_id", "n_moods"] {
            #expect(header.contains(member) && generated.contains("c.\(member)"), "\(member)")
        }
    }
}

/// Golden/: protos, the expected output, and protoc run on them.
enum Golden {
    static func url(_ name: String) throws -> URL {
        guard let url = Bundle.module.url(forResource: "Golden/\(name)", withExtension: nil) else {
            throw GeneratorError("no Golden/\(name) in the test bundle")
        }
        return url
    }

    /// The file in the source tree (to update it).
    static func sourceURL(_ name: String) -> URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden/\(name)")
    }

    /// protoc's descriptors of `proto` (with comments), as a plugin gets them.
    static func descriptors(_ proto: String, in directory: URL? = nil) throws -> DescriptorSet {
        let folder = try directory ?? url(proto).deletingLastPathComponent()
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("golden-\(UUID().uuidString).pb")
        defer { try? FileManager.default.removeItem(at: output) }
        try run("protoc", ["--include_source_info", "--include_imports", "--descriptor_set_out=\(output.path)", "-I\(folder.path)", proto])
        let set = try Google_Protobuf_FileDescriptorSet(serializedBytes: Data(contentsOf: output))
        return DescriptorSet(protos: set.file)
    }

    static func generate(_ proto: String, in directory: URL? = nil, options: GeneratorOptions = GeneratorOptions()) throws -> String {
        let set = try descriptors(proto, in: directory)
        guard let file = set.fileDescriptor(named: proto) else { throw GeneratorError("protoc gave no descriptor for \(proto)") }
        return try SwiftFileGenerator.generate(file: file, options: options)
    }

    /// The header protoc-c makes for `proto`.
    static func protocCHeader(_ proto: String) throws -> String {
        let folder = try url(proto).deletingLastPathComponent()
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("golden-c-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: output, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: output) }
        try run("protoc-c", ["--c_out=\(output.path)", "-I\(folder.path)", proto])
        return try String(contentsOf: output.appendingPathComponent(proto.replacingOccurrences(of: ".proto", with: ".pb-c.h")), encoding: .utf8)
    }

    static func run(_ tool: String, _ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [tool] + arguments
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let message = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw GeneratorError("\(tool) failed (\(process.terminationStatus)): \(String(decoding: message, as: UTF8.self))")
        }
    }
}
