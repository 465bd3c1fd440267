import PipeBusProtocGen
import SwiftProtobufPluginLibrary

/// protoc's plugin protocol: a CodeGeneratorRequest on stdin, a CodeGeneratorResponse on stdout.
/// Use: `protoc --plugin=protoc-gen-pipebus=PATH --pipebus_out=[OPTIONS:]DIR FILE.proto`.
struct PipeBusCodeGenerator: CodeGenerator {
    func generate(
        files: [FileDescriptor],
        parameter: any CodeGeneratorParameter,
        protoCompilerContext: any ProtoCompilerContext,
        generatorOutputs: any GeneratorOutputs
    ) throws {
        let options = try GeneratorOptions(parameter: parameter.parsedPairs)
        for file in files {
            try generatorOutputs.add(
                fileName: SwiftFileGenerator.outputName(for: file),
                contents: SwiftFileGenerator.generate(file: file, options: options)
            )
        }
    }

    var supportedFeatures: [Google_Protobuf_Compiler_CodeGeneratorResponse.Feature] { [] }
    var version: String? { "1.0.0" }
    var projectURL: String? { "pipebus: tools/protoc-gen-pipebus" }
}

PipeBusCodeGenerator().main(nil)
