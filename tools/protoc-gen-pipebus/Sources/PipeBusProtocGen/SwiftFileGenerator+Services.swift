import SwiftProtobufPluginLibrary

extension SwiftFileGenerator {
    /// How a method is served: inline or as a task for unary, or one of the streaming kinds.
    enum HandlerKind {
        case inline, unary, serverStreaming, clientStreaming, bidirectional

        init(_ method: MethodDescriptor) {
            switch (method.clientStreaming, method.serverStreaming) {
            case (false, false): self = Directives(method).isInline ? .inline : .unary
            case (false, true): self = .serverStreaming
            case (true, false): self = .clientStreaming
            case (true, true): self = .bidirectional
            }
        }

        /// The Router's registration function.
        var register: String {
            switch self {
            case .inline: "registerInline"
            case .unary: "registerUnary"
            case .serverStreaming: "registerServerStreaming"
            case .clientStreaming: "registerClientStreaming"
            case .bidirectional: "registerBidirectional"
            }
        }
    }

    /// The service's namespace: typed methods, the service protocol (what a server implements),
    /// its registration, and a typed client over any `RPCCaller`.
    func printService(_ service: ServiceDescriptor) {
        let namespace = namer.typePrefix(forFile: file) + service.name
        for line in Directives.docComment(service) { printer.print(line) }
        printer.print("\(visibility) enum \(namespace) {")
        printer.indented {
            printer.print(
                "/// The service's name on the wire: its methods are `/\(service.fullName)/<Method>`.",
                "\(visibility) static let serviceName = \"\(service.fullName)\"",
                "",
                "\(visibility) enum Method {",
            )
            printer.indented {
                for method in service.methods {
                    for line in Directives.docComment(method) { printer.print(line) }
                    printer.print("\(visibility) enum \(method.name): RPCMethod {")
                    printer.indented {
                        printer.print(
                            "\(visibility) typealias Input = \(namer.fullName(message: method.inputType))",
                            "\(visibility) typealias Output = \(namer.fullName(message: method.outputType))",
                            "\(visibility) static let descriptor = MethodDescriptor(service: serviceName, method: \"\(method.name)\")",
                        )
                    }
                    printer.print("}", "")
                }
                printer.print("/// Every method of the service.")
                let all = service.methods.map { "\($0.name).descriptor" }.joined(separator: ", ")
                printer.print("\(visibility) static let descriptors: [MethodDescriptor] = [\(all)]")
            }
            printer.print("}", "")
            printServiceProtocol(service)
            printer.print("")
            printClient(service)
        }
        printer.print("}", "")
        printRegistration(service, namespace: namespace)
    }

    private func printServiceProtocol(_ service: ServiceDescriptor) {
        printer.print(
            "/// What a server implements: a handler body per method. Register it with",
            "/// `router.register(service)`.",
            "\(visibility) protocol ServiceProtocol: RegistrableService {",
        )
        printer.indented {
            for (index, method) in service.methods.enumerated() {
                if index > 0 { printer.print("") }
                for line in Directives.docComment(method) { printer.print(line) }
                let types = "Method.\(method.name)"
                let name = Self.swiftFunctionName(method.name)
                switch HandlerKind(method) {
                case .inline:
                    printer.print("/// Runs inline on the connection's reader thread: it must be quick and must not block.")
                    printer.print("func \(name)(request: \(types).Input, context: ServerContext) throws -> \(types).Output")
                case .unary:
                    printer.print("func \(name)(request: \(types).Input, context: ServerContext) async throws -> \(types).Output")
                case .serverStreaming:
                    printer.print("func \(name)(request: \(types).Input, response: ResponseWriter<\(types).Output>, context: ServerContext) async throws")
                case .clientStreaming:
                    printer.print("func \(name)(request: RequestStream<\(types).Input>, context: ServerContext) async throws -> \(types).Output")
                case .bidirectional:
                    printer.print("func \(name)(request: RequestStream<\(types).Input>, response: ResponseWriter<\(types).Output>, context: ServerContext) async throws")
                }
            }
        }
        printer.print("}")
    }

    private func printClient(_ service: ServiceDescriptor) {
        printer.print(
            "/// Typed calls over a connection, a reconnecting pipe client or a sidecar client.",
            "\(visibility) struct Client<Caller: RPCCaller>: Sendable {",
        )
        printer.indented {
            printer.print("\(visibility) let caller: Caller", "", "\(visibility) init(wrapping caller: Caller) {")
            printer.printIndented("self.caller = caller")
            printer.print("}")
            for method in service.methods {
                printer.print("")
                for line in Directives.docComment(method) { printer.print(line) }
                let types = "Method.\(method.name)"
                let name = Self.swiftFunctionName(method.name)
                let options = "metadata: Metadata = Metadata(),\n    timeout: Duration? = nil"
                switch HandlerKind(method) {
                case .inline, .unary:
                    printer.print(
                        "\(visibility) func \(name)(",
                        "    _ request: \(types).Input,",
                        "    \(options)",
                        ") async throws -> \(types).Output {",
                    )
                    printer.printIndented("try await caller.unary(\(types).descriptor, request: request, metadata: metadata, timeout: timeout, responseType: \(types).Output.self)")
                case .serverStreaming:
                    printer.print(
                        "\(visibility) func \(name)<Result>(",
                        "    _ request: \(types).Input,",
                        "    \(options),",
                        "    _ body: (ResponseStream<\(types).Output>) async throws -> Result",
                        ") async throws -> Result {",
                    )
                    printer.printIndented("try await caller.withServerStreaming(\(types).descriptor, request: request, metadata: metadata, timeout: timeout, responseType: \(types).Output.self, body)")
                case .clientStreaming:
                    printer.print(
                        "\(visibility) func \(name)(",
                        "    \(options),",
                        "    _ body: (RequestSender<\(types).Input>) async throws -> Void",
                        ") async throws -> \(types).Output {",
                    )
                    printer.printIndented("try await caller.withClientStreaming(\(types).descriptor, metadata: metadata, timeout: timeout, requestType: \(types).Input.self, responseType: \(types).Output.self, body)")
                case .bidirectional:
                    printer.print(
                        "\(visibility) func \(name)<Result>(",
                        "    \(options),",
                        "    _ body: (RequestSender<\(types).Input>, ResponseStream<\(types).Output>) async throws -> Result",
                        ") async throws -> Result {",
                    )
                    printer.printIndented("try await caller.withBidirectional(\(types).descriptor, metadata: metadata, timeout: timeout, requestType: \(types).Input.self, responseType: \(types).Output.self, body)")
                }
                printer.print("}")
            }
        }
        printer.print("}")
    }

    private func printRegistration(_ service: ServiceDescriptor, namespace: String) {
        printer.print("extension \(namespace).ServiceProtocol {")
        printer.indented {
            printer.print("/// Adds every method of `\(service.fullName)` to `router`.")
            printer.print("\(visibility) func registerMethods(with router: inout Router) {")
            printer.indented {
                for method in service.methods {
                    let name = Self.swiftFunctionName(method.name)
                    let kind = HandlerKind(method)
                    printer.print("router.\(kind.register)(\(namespace).Method.\(method.name).self) { \(kind.closureParameters) in")
                    printer.printIndented("\(kind.tryKeyword) self.\(name)(\(kind.callArguments))")
                    printer.print("}")
                }
            }
            printer.print("}")
        }
        printer.print("}")
    }

    /// `ListStream` → `listStream`; a Swift keyword (`Repeat`) is back-quoted.
    static func swiftFunctionName(_ methodName: String) -> String {
        let leadingUpper = methodName.prefix { $0.isUppercase }
        let lowered: String
        if leadingUpper.count > 1, leadingUpper.count < methodName.count {
            // `HTTPGet` → `httpGet`: the run of capitals but the last, which starts the next word.
            lowered = leadingUpper.dropLast().lowercased() + methodName.dropFirst(leadingUpper.count - 1)
        } else {
            lowered = methodName.prefix(1).lowercased() + methodName.dropFirst()
        }
        return swiftKeywords.contains(lowered) ? "`\(lowered)`" : lowered
    }

    private static let swiftKeywords: Set<String> = [
        "associatedtype", "class", "deinit", "enum", "extension", "fileprivate", "func", "import", "init",
        "inout", "internal", "let", "open", "operator", "private", "precedencegroup", "protocol", "public",
        "rethrows", "static", "struct", "subscript", "typealias", "var", "break", "case", "catch", "continue",
        "default", "defer", "do", "else", "fallthrough", "for", "guard", "if", "in", "repeat", "return",
        "throw", "switch", "where", "while", "as", "await", "false", "is", "nil", "self", "super", "throws",
        "true", "try", "package", "consume", "borrowing", "consuming", "any", "some",
    ]
}

extension SwiftFileGenerator.HandlerKind {
    var closureParameters: String {
        switch self {
        case .inline, .unary, .clientStreaming: "request, context"
        case .serverStreaming, .bidirectional: "request, response, context"
        }
    }

    var callArguments: String {
        switch self {
        case .inline, .unary, .clientStreaming: "request: request, context: context"
        case .serverStreaming, .bidirectional: "request: request, response: response, context: context"
        }
    }

    var tryKeyword: String { self == .inline ? "try" : "try await" }
}
