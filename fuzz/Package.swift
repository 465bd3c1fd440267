// swift-tools-version: 6.1
// libFuzzer targets for pipebus, in their own package so that the main package's build and
// dependencies are unaffected. Build and run them with `scripts/fuzz.sh` (see fuzz/README.md).
import PackageDescription

let strictSwift: [SwiftSetting] = [
    .enableUpcomingFeature("InternalImportsByDefault"),
    .enableUpcomingFeature("ExistentialAny"),
    // libFuzzer brings `main`; each target only defines LLVMFuzzerTestOneInput.
    .unsafeFlags(["-parse-as-library"]),
]

/// One executable per fuzz target, `Sources/<name>/main.swift`.
func fuzzTarget(_ name: String, _ dependencies: [Target.Dependency]) -> Target {
    .executableTarget(name: name, dependencies: ["FuzzSupport"] + dependencies, swiftSettings: strictSwift)
}

let core: Target.Dependency = .product(name: "PipeBusCore", package: "pipebus")
let tasks: Target.Dependency = .product(name: "PipeBusTasks", package: "pipebus")
let health: Target.Dependency = .product(name: "PipeBusHealth", package: "pipebus")

let package = Package(
    name: "pipebus-fuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        // No traits: the decoders need neither OTLP nor gRPC, and with them this release ASan build
        // would compile BoringSSL, SwiftNIO and grpc-swift too.
        .package(name: "pipebus", path: "..", traits: [])
    ],
    targets: [
        .target(name: "FuzzSupport", dependencies: [core], swiftSettings: strictSwift),
        fuzzTarget("fuzz-frame-decoder", [core]),
        fuzzTarget("fuzz-lz4", [core]),
        fuzzTarget("fuzz-envelope", [core]),
        fuzzTarget("fuzz-connect-record", [core]),
        fuzzTarget("fuzz-health", [core, health]),
        fuzzTarget("fuzz-tasks", [core, tasks]),
        fuzzTarget("fuzz-task-json", [core, .product(name: "PipeBusSidecar", package: "pipebus")]),
        // Writes the seed corpus (fuzz/corpus/<target>/); an ordinary executable, built without
        // the fuzzer by scripts/fuzz-seeds.sh.
        .executableTarget(name: "fuzz-seeds", dependencies: [core, tasks, health], path: "Seeds"),
    ]
)
