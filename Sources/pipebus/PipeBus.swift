import ArgumentParser

/// The `pipebus` command line: thin argument parsing over the libraries.
@main
struct PipeBus: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pipebus",
        abstract: "A gRPC-style message bus over named pipes.",
        subcommands: [SidecarCommand.self, DemoCommand.self]
    )
}
