import ArgumentParser
import FoundationEssentials

/// The hidden subcommand a peer process runs: pin, play one role, print its report as JSON.
struct PeerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "_peer",
        abstract: "Internal: one side of a measurement, started by the harness itself.",
        shouldDisplay: false
    )

    @Argument(help: "The role to play.")
    var role: String

    @Option(name: .customLong("cpu"), help: "A CPU to pin to (repeatable); none leaves the peer unpinned.")
    var cpus: [Int] = []

    @Option(name: .customLong("configuration"), help: "The role's configuration as JSON.")
    var configurationJSON: String

    func validate() throws {
        guard PeerRoles.named(role) != nil else {
            throw ValidationError("unknown peer role '\(role)'")
        }
    }

    /// Called by `PipeBusBench.main` on the main thread before `run`.
    func pinBeforeThreadsStart() throws {
        if !cpus.isEmpty { try CPUPinning.pinProcess(to: cpus) }
    }

    func run() async throws {
        guard let roleType = PeerRoles.named(role) else { throw ValidationError("unknown peer role '\(role)'") }
        let report = try await Self.play(roleType, configuration: Data(configurationJSON.utf8))
        print(String(decoding: report, as: UTF8.self))
    }

    private static func play<Role: PeerRole>(_ role: Role.Type, configuration: Data) async throws -> Data {
        let decoded = try JSONDecoder().decode(Role.Configuration.self, from: configuration)
        return try JSONEncoder().encode(try await role.run(decoded))
    }
}
