// swift-tools-version: 6.2
import PackageDescription

// protoc-gen-pipebus: the protoc plugin that makes pipebus's Swift code from proto/ (messages
// mapped to and from protobuf-c, typed methods, service protocols, clients). A package of its own,
// so swift-protobuf's plugin library is built only by scripts/generate-proto.sh and this package's
// tests, never by the product's builds: the generated code is committed.
let package = Package(
    name: "protoc-gen-pipebus",
    products: [
        .executable(name: "protoc-gen-pipebus", targets: ["protoc-gen-pipebus"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
    ],
    targets: [
        .target(
            name: "PipeBusProtocGen",
            dependencies: [.product(name: "SwiftProtobufPluginLibrary", package: "swift-protobuf")]
        ),
        .executableTarget(
            name: "protoc-gen-pipebus",
            dependencies: [
                "PipeBusProtocGen",
                .product(name: "SwiftProtobufPluginLibrary", package: "swift-protobuf"),
            ]
        ),
        .testTarget(
            name: "PipeBusProtocGenTests",
            dependencies: [
                "PipeBusProtocGen",
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "SwiftProtobufPluginLibrary", package: "swift-protobuf"),
            ],
            resources: [.copy("Golden")]
        ),
    ]
)
