#if canImport(Glibc)
import Glibc
#endif
public import PipeBusCore
import PipeBusSystem
import SystemPackage

/// Opens connections to a `PipeServer`: the client side of the connect procedure.
///
/// 1. make a private FIFO pair in the server's directory (`<id>.c2s`, `<id>.s2c`, 0600);
/// 2. open the reply FIFO for reading, so the server's open of its write end succeeds;
/// 3. write one connect record (≤ 4096 bytes, atomic) to the server's connect FIFO;
/// 4. read the server's HELLO_ACK; the server has then opened the request FIFO for reading,
///    so opening its write end cannot block or fail with ENXIO;
/// 5. unlink both names (the open descriptors are all that is needed) and send HELLO.
public enum PipeConnector {
    public struct Configuration: Sendable {
        public var connection = ClientConnection.Configuration.defaults
        public var readPolicy = FIFOConnectionIO.ReadPolicy()
        /// How long connecting may take in all; a sidecar that is not running answers at once.
        public var connectTimeout: Duration = .seconds(1)
        public var pipeBufferSize = 256 * 1024

        public init() {}
        public static var defaults: Configuration { Configuration() }
    }

    /// Connects to the server serving `directory`. Throws UNAVAILABLE when none is.
    public static func connect(
        to directory: PipeDirectory,
        configuration: Configuration = .defaults,
        metrics: TransportMetrics? = nil
    ) throws -> ClientConnection {
        ignoreBrokenPipeSignal()
        let deadline = ContinuousClock.now + configuration.connectTimeout
        guard (try? FilePath(directory.connectFIFO).lstat()) ?? nil != nil else {
            throw RPCError(code: .unavailable, message: "no server is listening in \(directory.path) (no connect FIFO)")
        }
        try directory.check()
        let id = "c\(getpid())-\(UInt64.random(in: 0...UInt64.max) & 0xFFFF_FFFF_FFFF)"
        let inbound = directory.serverToClient(id)
        let outbound = directory.clientToServer(id)
        defer {
            FilePath(inbound).removeIfPresent()
            FilePath(outbound).removeIfPresent()
        }
        try translatingSystemErrors {
            try FilePath(inbound).makeFIFO(permissions: .ownerReadWrite)
            try FilePath(outbound).makeFIFO(permissions: .ownerReadWrite)
        }
        let readFD = try PipeDirectory.openFIFO(inbound, writing: false)
        let io: FIFOConnectionIO
        do {
            io = try FIFOConnectionIO(readFD: readFD.rawValue, writeFD: nil, readPolicy: configuration.readPolicy, metrics: metrics)
        } catch {
            readFD.closeIgnoringErrors()
            throw RPCError(code: .unavailable, message: "cannot set up a connection", cause: "\(error)")
        }
        try sendConnectRecord(
            ConnectRecord(
                connectionID: id,
                hello: Hello(maxFrameSize: UInt32(configuration.connection.maxFrameSize), peerName: configuration.connection.clientName, pid: UInt32(getpid()))
            ),
            to: directory,
            deadline: deadline
        )
        var decoder = FrameDecoder(maxFrameSize: configuration.connection.maxFrameSize)
        let remaining = max(.milliseconds(1), ContinuousClock.now.duration(to: deadline))
        let serverHello = try ClientConnection.readServerHello(from: io, decoder: &decoder, timeout: remaining)
        let writeFD: FileDescriptor
        do {
            writeFD = try PipeDirectory.openFIFO(outbound, writing: true)
        } catch let error as RPCError where error.code == .notFound {
            // Our own FIFO gone after the server's HELLO_ACK: the server removed it, leaving.
            throw RPCError(code: .unavailable, message: "the server in \(directory.path) went away while connecting", cause: error.cause)
        }
        writeFD.setPipeSize(configuration.pipeBufferSize)
        io.attachWriteEnd(writeFD.rawValue)
        return try ClientConnection(
            io: io,
            serverHello: serverHello,
            decoder: decoder,
            configuration: configuration.connection,
            metrics: metrics
        )
    }

    private static func sendConnectRecord(_ record: ConnectRecord, to directory: PipeDirectory, deadline: ContinuousClock.Instant) throws {
        var frame: [UInt8] = []
        var encoder = FrameEncoder(maxFrameSize: ConnectRecord.maxEncodedSize - FrameHeader.size)
        try encoder.append(body: record.serializedBytes(), to: &frame)
        let fd: FileDescriptor
        do {
            fd = try PipeDirectory.openFIFO(directory.connectFIFO, writing: true)
        } catch let error as RPCError
            where error.cause == Errno.noSuchAddressOrDevice.cause || error.cause == Errno.noSuchFileOrDirectory.cause
        {
            // ENXIO: no reader (the server is gone); ENOENT: no connect FIFO at all.
            throw RPCError(code: .unavailable, message: "no server is listening in \(directory.path)", cause: error.cause)
        }
        defer { fd.closeIgnoringErrors() }
        while true {
            let written = try frame.withUnsafeBytes { bytes in try translatingSystemErrors { try fd.writeNonBlocking(bytes) } }
            if let written {
                guard written == frame.count else {
                    throw RPCError(code: .internal, message: "connect record written partly (\(written) of \(frame.count) bytes)")
                }
                return
            }
            // The connect FIFO is full: the listener is busy; retry until the deadline.
            guard ContinuousClock.now < deadline else {
                throw RPCError(code: .unavailable, message: "the server's connect FIFO stayed full; is it overloaded?")
            }
            usleep(1_000)
        }
    }
}
