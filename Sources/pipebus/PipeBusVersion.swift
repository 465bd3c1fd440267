import PipeBusCore

/// This build's version: `pipebus --version` prints it. The one place it is written.
enum PipeBusVersion {
    static let current = "0.1.0"

    /// `0.1.0 (wire protocol 1)`: the wire protocol version says which peers it talks to.
    static var description: String { "\(current) (wire protocol \(Hello.currentProtocolVersion))" }
}
