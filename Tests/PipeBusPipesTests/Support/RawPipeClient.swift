import PipeBusCore
import PipeBusPipes
import PipeBusTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// A hand-made client that follows the connect procedure (PROTOCOL.md §2) step by step with
/// plain syscalls, so that a test can stop anywhere in it or send what no `ClientConnection`
/// would: garbage, oversized lengths, half frames.
final class RawPipeClient: Sendable {
    let directory: PipeDirectory
    let id: String
    /// The read end of `<id>.s2c` (what the server sends).
    let readFD: Int32
    /// The write end of `<id>.c2s`, once opened.
    let writeFD: Int32

    var clientToServer: String { directory.path + "/\(id).c2s" }
    var serverToClient: String { directory.path + "/\(id).s2c" }

    private init(directory: PipeDirectory, id: String, readFD: Int32, writeFD: Int32) {
        self.directory = directory
        self.id = id
        self.readFD = readFD
        self.writeFD = writeFD
    }

    /// Connects by hand: FIFO pair, connect record, HELLO_ACK, open `c2s`; sends HELLO if asked.
    static func connect(to directory: PipeDirectory, sendHello: Bool) async throws -> RawPipeClient {
        let id = newID()
        try makeFIFO(directory.path + "/\(id).c2s")
        try makeFIFO(directory.path + "/\(id).s2c")
        let readFD = try openFIFO(directory.path + "/\(id).s2c", O_RDONLY)
        try writeConnectRecord(id: id, to: directory)
        let frames = try await readFrames(readFD, until: { !$0.isEmpty }, within: .seconds(5))
        guard frames.first?.kind == .helloAck else {
            throw RPCError(code: .internal, message: "expected HELLO_ACK, got \(frames.map(\.kind))")
        }
        let writeFD = try openFIFO(directory.path + "/\(id).c2s", O_WRONLY)
        unlink(directory.path + "/\(id).c2s")
        unlink(directory.path + "/\(id).s2c")
        let client = RawPipeClient(directory: directory, id: id, readFD: readFD, writeFD: writeFD)
        if sendHello {
            try client.write(
                frame(
                    Envelope(
                        streamID: 0,
                        kind: .hello,
                        hello: Hello(peerName: "raw-test-client", pid: UInt32(getpid()))
                    )
                )
            )
        }
        return client
    }

    deinit {
        close(readFD)
        if writeFD >= 0 { close(writeFD) }
    }

    /// Writes all of `bytes` to `c2s`.
    func write(_ bytes: [UInt8]) throws {
        try Self.writeAll(writeFD, bytes)
    }

    /// Closes the write end: the server sees end of stream.
    func closeWriteEnd() {
        shutdownWriteEnd(writeFD)
    }

    /// Reads what the server sends until it closes its end; the envelopes read.
    func readUntilEndOfStream(within limit: Duration) async throws -> [Envelope] {
        try await Self.readFrames(readFD, until: { _ in false }, within: limit, endOfStreamEnds: true)
    }

    // MARK: Building blocks, also used on their own

    static func newID() -> String { "raw-\(UInt64.random(in: 0...UInt64.max) & 0xFFFF_FFFF_FFFF)" }

    static func makeFIFO(_ path: String, mode: mode_t = 0o600) throws {
        guard mkfifo(path, mode) == 0 else {
            throw RPCError(code: .internal, message: "mkfifo \(path): errno \(errno)")
        }
    }

    static func openFIFO(_ path: String, _ flags: Int32) throws -> Int32 {
        let fd = open(path, flags | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { throw RPCError(code: .internal, message: "open \(path): errno \(errno)") }
        return fd
    }

    /// One frame whose body is `envelope`.
    static func frame(_ envelope: Envelope) throws -> [UInt8] {
        var bytes: [UInt8] = []
        var encoder = FrameEncoder()
        try encoder.appendFrame(to: &bytes) { envelope.serialize(into: &$0) }
        return bytes
    }

    /// One frame whose body is a connect record for `id`.
    static func connectRecordFrame(id: String) throws -> [UInt8] {
        var bytes: [UInt8] = []
        var encoder = FrameEncoder(maxFrameSize: ConnectRecord.maxEncodedSize - FrameHeader.size)
        try encoder.append(
            body: ConnectRecord(connectionID: id, hello: Hello(peerName: "raw-test-client", pid: UInt32(getpid())))
                .serializedBytes(),
            to: &bytes
        )
        return bytes
    }

    static func writeConnectRecord(id: String, to directory: PipeDirectory) throws {
        try writeToConnectFIFO(connectRecordFrame(id: id), in: directory)
    }

    /// Writes `bytes` to the server's connect FIFO in one `write`, as a client must.
    static func writeToConnectFIFO(_ bytes: [UInt8], in directory: PipeDirectory) throws {
        let fd = try openFIFO(directory.connectFIFO, O_WRONLY)
        defer { close(fd) }
        try writeAll(fd, bytes)
    }

    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if written < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN {
                    var fds = [pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)]
                    _ = poll(&fds, 1, 1000)
                    continue
                }
                throw RPCError(code: .unavailable, message: "write: errno \(errno)")
            }
            offset += written
        }
    }

    /// Reads frames from `fd` until `done` says so, or end of stream when `endOfStreamEnds`
    /// (otherwise end of stream is an error), at most `limit` in all. Runs on its own thread.
    static func readFrames(
        _ fd: Int32,
        until done: @escaping @Sendable ([Envelope]) -> Bool,
        within limit: Duration,
        endOfStreamEnds: Bool = false
    ) async throws -> [Envelope] {
        try await onThread("test-raw-read") {
            var decoder = FrameDecoder()
            var envelopes: [Envelope] = []
            let giveUp = ContinuousClock.now + limit
            while true {
                while let body = try decoder.nextFrame() { envelopes.append(try Envelope(serializedBytes: body.body)) }
                if done(envelopes) { return envelopes }
                let remaining = ContinuousClock.now.duration(to: giveUp)
                guard remaining > .zero else {
                    throw TimeoutError(what: "frames from the server (got \(envelopes.map(\.kind)))", limit: limit)
                }
                var fds = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0)]
                let milliseconds = Int32(
                    clamping: remaining.components.seconds * 1000 + remaining.components.attoseconds
                        / 1_000_000_000_000_000 + 1
                )
                _ = poll(&fds, 1, milliseconds)
                let count = decoder.readInto(maximum: 64 * 1024) { buffer in
                    Glibc.read(fd, buffer.baseAddress, buffer.count)
                }
                if count == 0 {
                    if endOfStreamEnds { return envelopes }
                    throw RPCError(
                        code: .unavailable,
                        message: "the server closed the connection (got \(envelopes.map(\.kind)))"
                    )
                }
            }
        }
    }
}

/// Closes a FIFO end without giving up its descriptor number: /dev/null takes its place (dup2),
/// so the owner's later `close` cannot hit a descriptor some other test has been given since.
func shutdownWriteEnd(_ fd: Int32) {
    let null = open("/dev/null", O_WRONLY | O_CLOEXEC)
    guard null >= 0 else { return }
    dup2(null, fd)
    close(null)
}
