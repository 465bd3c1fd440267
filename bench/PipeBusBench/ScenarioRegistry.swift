/// Every scenario, in the order a run without arguments measures them.
enum ScenarioRegistry {
    static let all: [any Scenario] = {
        var scenarios: [any Scenario] = [
            BaselineScenario(),
            CodecScenario(),
            EngineScenario(),
            RTTScenario(),
            GRPCScenario(),
        ]
        #if GRPC
        scenarios.append(GRPCBridgeScenario())
        #endif
        return scenarios + rest
    }()

    private static let rest: [any Scenario] = [
        PythonScenario(),
        StreamScenario(),
        WriteLatencyScenario(),
        CompressionScenario(),
        ConcurrencyScenario(),
        SpinScenario(),
        SyscallsScenario(),
        SpoolScenario(),
    ]

    static func named(_ name: String) -> (any Scenario)? {
        all.first { $0.name == name }
    }

    /// For `--help`: one line per scenario.
    static var helpText: String {
        all.map { "  \($0.name): \($0.summary)" }.joined(separator: "\n")
    }
}
