import PipeBusCore
import PipeBusPipes

/// The pipebus knobs a measurement sets, carried to the server and client peers as JSON and
/// turned into their configurations there.
struct TransportSettings: Codable, Sendable, Hashable {
    /// `FIFOConnectionIO.ReadPolicy.spin`, both sides; 0 blocks in `poll` at once.
    var spinMicroseconds = 0
    /// Asked of the kernel for each direction's FIFO.
    var pipeBufferSize = PipeServer.Configuration.defaults.pipeBufferSize
    /// The server's `flushThreshold`; nil keeps pipebus's default.
    var flushThreshold: Int?
    /// LZ4 on both sides from this body size up; nil: compression off on both sides (the client's
    /// default; the server compresses large replies by default, so the bench turns that off too).
    var compressionThreshold: Int?

    var readPolicy: FIFOConnectionIO.ReadPolicy {
        FIFOConnectionIO.ReadPolicy(spin: .microseconds(spinMicroseconds))
    }

    var compression: CompressionPolicy {
        compressionThreshold.map { CompressionPolicy(isEnabled: true, threshold: $0) } ?? .disabled
    }

    var serverConfiguration: PipeServer.Configuration {
        var configuration = PipeServer.Configuration.defaults
        configuration.readPolicy = readPolicy
        configuration.pipeBufferSize = pipeBufferSize
        configuration.connection.compression = compression
        if let flushThreshold { configuration.connection.flushThreshold = flushThreshold }
        return configuration
    }

    var connectorConfiguration: PipeConnector.Configuration {
        var configuration = PipeConnector.Configuration.defaults
        configuration.readPolicy = readPolicy
        configuration.pipeBufferSize = pipeBufferSize
        configuration.connection.compression = compression
        configuration.connection.clientName = "pipebus-bench"
        // Peers start together on a loaded machine: be patient with the server.
        configuration.connectTimeout = .seconds(5)
        return configuration
    }
}
