import Foundation
import PipeBusCore
import PipeBusPipes
import PipeBusTestSupport
import Testing
import PipeBusEcho

#if canImport(Glibc)
import Glibc
#endif

extension PipeTransportTests {
    /// DESIGN §6 and PROTOCOL.md §1: a private directory, FIFOs 0600 whatever the umask, opened with
    /// O_NOFOLLOW and checked with fstat; anything else at a FIFO's path is refused and left
    /// untouched; one server per directory.
    @Suite
    struct PipeSecurityTests {
        static let precious = Array("precious content, not to be touched\n".utf8)

        // MARK: Symlinks and regular files where a FIFO should be

        @Test func serverRefusesASymlinkAtTheConnectFIFO() throws {
            let directory = try TemporaryDirectory()
            defer { directory.remove() }
            try makePrivateDirectory(directory.pipes.path)
            let target = directory.file("target")
            try writeFile(target, Self.precious)
            try makeSymlink(directory.pipes.connectFIFO, to: target)

            let server = try PipeServer(directory: directory.pipes, router: Router())
            let error = #expect(throws: RPCError.self) { try server.start() }
            #expect(error?.code == .permissionDenied)
            #expect(try readFile(target) == Self.precious)
            #expect(try symlinkTarget(directory.pipes.connectFIFO) == target, "the symlink is left in place")
        }

        @Test func serverRefusesARegularFileAtTheConnectFIFO() throws {
            let directory = try TemporaryDirectory()
            defer { directory.remove() }
            try makePrivateDirectory(directory.pipes.path)
            try writeFile(directory.pipes.connectFIFO, Self.precious)

            let server = try PipeServer(directory: directory.pipes, router: Router())
            let error = #expect(throws: RPCError.self) { try server.start() }
            #expect(error?.code == .permissionDenied)
            #expect(try readFile(directory.pipes.connectFIFO) == Self.precious)
        }

        /// A client refuses a connect "FIFO" that is a symlink (to a file, or to someone's FIFO) or a
        /// regular file, and writes nothing through it.
        @Test(arguments: ["symlink to a file", "symlink to a FIFO", "regular file"])
        func clientRefusesAnImpostorConnectFIFO(_ impostor: String) async throws {
            let directory = try TemporaryDirectory()
            defer { directory.remove() }
            try makePrivateDirectory(directory.pipes.path)
            let target = directory.file("target")
            var fifoReader: Int32 = -1
            defer { if fifoReader >= 0 { close(fifoReader) } }
            switch impostor {
            case "symlink to a file":
                try writeFile(target, Self.precious)
                try makeSymlink(directory.pipes.connectFIFO, to: target)
            case "symlink to a FIFO":
                try RawPipeClient.makeFIFO(target)
                fifoReader = try RawPipeClient.openFIFO(target, O_RDONLY)
                try makeSymlink(directory.pipes.connectFIFO, to: target)
            default:
                try writeFile(directory.pipes.connectFIFO, Self.precious)
            }
            let error = await rpcError { try await onThread { try PipeConnector.connect(to: directory.pipes) } }
            #expect(error?.code == .permissionDenied)
            switch impostor {
            case "symlink to a file": #expect(try readFile(target) == Self.precious)
            case "symlink to a FIFO":
                #expect(readAvailable(fifoReader).isEmpty, "nothing may be written through the symlink")
            default: #expect(try readFile(directory.pipes.connectFIFO) == Self.precious)
            }
            // The client cleans up the FIFO pair it made for the attempt.
            #expect(
                try listDirectory(directory.pipes.path).filter { $0.hasSuffix(".c2s") || $0.hasSuffix(".s2c") } == []
            )
        }

        enum ConnectionImpostor: String, CaseIterable, Sendable, CustomTestStringConvertible {
            case symlinkAsRequestFIFO, symlinkAsReplyFIFO, fileAsRequestFIFO, fileAsReplyFIFO, foreignFIFOAsRequestFIFO
            var testDescription: String { rawValue }
        }

        /// A connect record naming a "FIFO pair" of which one is a symlink, a regular file, or a
        /// FIFO owned by someone else: the server refuses the connection, touches neither the
        /// impostor nor what it points to, sends nothing, and goes on serving.
        @Test(arguments: ConnectionImpostor.allCases.filter { $0 != .foreignFIFOAsRequestFIFO || runningAsRoot })
        func serverRefusesAnImpostorConnectionFIFO(_ impostor: ConnectionImpostor) async throws {
            let server = try TransportFixture.namedPipes.startServer()
            defer { server.stop() }
            let directory = server.pipeServer.directory
            let target = server.temporaryDirectory.file("target")
            try writeFile(target, Self.precious)
            let id = RawPipeClient.newID()
            let request = directory.path + "/\(id).c2s"
            let reply = directory.path + "/\(id).s2c"
            let (impostorPath, fifoPath) =
                switch impostor {
                case .symlinkAsRequestFIFO, .fileAsRequestFIFO, .foreignFIFOAsRequestFIFO: (request, reply)
                case .symlinkAsReplyFIFO, .fileAsReplyFIFO: (reply, request)
                }
            try RawPipeClient.makeFIFO(fifoPath)
            switch impostor {
            case .symlinkAsRequestFIFO, .symlinkAsReplyFIFO: try makeSymlink(impostorPath, to: target)
            case .fileAsRequestFIFO, .fileAsReplyFIFO: try writeFile(impostorPath, Self.precious)
            case .foreignFIFOAsRequestFIFO:
                try RawPipeClient.makeFIFO(impostorPath)
                #expect(chown(impostorPath, 65534, 65534) == 0, "the tests run as root here and can give a FIFO away")
            }
            // Hold the reply FIFO open for reading when it is a real FIFO, as a client would.
            let replyReader = fifoPath == reply ? try RawPipeClient.openFIFO(reply, O_RDONLY) : -1
            defer { if replyReader >= 0 { close(replyReader) } }
            let refusedBefore = server.metrics.snapshot().connectionErrors["connect_refused", default: 0]
            try RawPipeClient.writeConnectRecord(id: id, to: directory)
            try await eventually("the connection to be refused", timeout: .seconds(5)) {
                server.metrics.snapshot().connectionErrors["connect_refused", default: 0] > refusedBefore
            }
            #expect(try readFile(target) == Self.precious, "the symlink's target is untouched")
            switch impostor {
            case .symlinkAsRequestFIFO, .symlinkAsReplyFIFO:
                #expect(try symlinkTarget(impostorPath) == target, "the symlink is left in place (PROTOCOL.md §1)")
            case .fileAsRequestFIFO, .fileAsReplyFIFO:
                #expect(
                    try readFile(impostorPath) == Self.precious,
                    "the file is left in place, unchanged (PROTOCOL.md §1)"
                )
            case .foreignFIFOAsRequestFIFO:
                #expect(try fileStatus(impostorPath).st_uid == 65534, "the foreign FIFO is left in place")
            }
            if replyReader >= 0 { #expect(readAvailable(replyReader).isEmpty, "no HELLO_ACK for a refused connection") }
            #expect(server.pipeServer.connectionCount == 0)
            let client = try await server.connect()
            defer { client.close() }
            #expect(try await client.unary(Pipebus_Testing_V1_Echo.Method.Echo.descriptor, request: [1], responseType: [UInt8].self) == [1])
        }

        // MARK: Modes under umask 000

        @Test func serverCreatesPrivateFilesUnderUmask000() async throws {
            let directory = try TemporaryDirectory()
            defer { directory.remove() }
            let server = try TestPeer.start("serve", in: directory, ["--umask", "000"])
            defer { server.stop() }
            _ = try await server.line(startingWith: "ready")
            #expect(try fileStatus(directory.pipes.path).st_mode & 0o7777 == 0o700)
            let connect = try fileStatus(directory.pipes.connectFIFO)
            #expect(connect.st_mode & S_IFMT == S_IFIFO)
            #expect(connect.st_mode & 0o7777 == 0o600)
            #expect(try fileStatus(directory.pipes.lockFile).st_mode & 0o7777 == 0o600)
            server.signal(SIGTERM)
            #expect(try await server.exitStatus() == .code(0))
        }

        /// The client's FIFO pair is 0600 under umask 000 too. The test plays the server: it reads
        /// the connect record, then looks at the pair the client (a peer process) made.
        @Test func clientCreatesItsFIFOPairPrivateUnderUmask000() async throws {
            let directory = try TemporaryDirectory()
            defer { directory.remove() }
            try makePrivateDirectory(directory.pipes.path)
            try RawPipeClient.makeFIFO(directory.pipes.connectFIFO)
            let connectReader = try RawPipeClient.openFIFO(directory.pipes.connectFIFO, O_RDONLY)
            defer { close(connectReader) }
            let client = try TestPeer.start("call", in: directory, ["--umask", "000", "--calls", "1"])
            defer { client.stop() }
            let records = try await onThread { () -> [ConnectRecord] in
                var decoder = FrameDecoder(maxFrameSize: ConnectRecord.maxEncodedSize)
                var fds = [pollfd(fd: connectReader, events: Int16(POLLIN), revents: 0)]
                guard poll(&fds, 1, 5000) == 1 else { return [] }
                _ = decoder.readInto(maximum: 4096) { read(connectReader, $0.baseAddress, $0.count) }
                guard let frame = try decoder.nextFrame() else { return [] }
                return [try ConnectRecord(serializedBytes: frame.body)]
            }
            let record = try #require(records.first, "no connect record from the client")
            for suffix in [".c2s", ".s2c"] {
                let info = try fileStatus(directory.pipes.path + "/" + record.connectionID + suffix)
                #expect(info.st_mode & S_IFMT == S_IFIFO)
                #expect(info.st_mode & 0o7777 == 0o600, "\(suffix) has mode \(String(info.st_mode & 0o7777, radix: 8))")
            }
            // No HELLO_ACK comes: the client gives up with UNAVAILABLE after its connect timeout.
            #expect(try await client.exitStatus() == .code(3))
            #expect(client.stdoutLines.last?.hasPrefix("error UNAVAILABLE") == true)
        }

        // MARK: One server per directory

        @Test func secondServerOnTheSameDirectoryIsRefused() async throws {
            let first = try TransportFixture.namedPipes.startServer()
            defer { first.stop() }
            let directory = first.pipeServer.directory
            let connectFIFO = try fileStatus(directory.connectFIFO)

            let second = try PipeServer(directory: directory, router: Router())
            let error = #expect(throws: RPCError.self) { try second.start() }
            #expect(error?.code == .failedPrecondition)
            #expect(
                error?.message.contains("pid \(getpid())") == true,
                "the refusal names the holder: \(error?.message ?? "")"
            )

            let peer = try TestPeer.start("serve", in: first.temporaryDirectory)
            defer { peer.stop() }
            #expect(try await peer.exitStatus() == .code(3))
            #expect(peer.stdoutLines.last?.hasPrefix("error FAILED_PRECONDITION") == true, "\(peer.stdoutLines)")

            // Neither attempt disturbed the first server.
            let after = try fileStatus(directory.connectFIFO)
            #expect(after.st_ino == connectFIFO.st_ino)
            let client = try await first.connect()
            defer { client.close() }
            #expect(try await client.unary(Pipebus_Testing_V1_Echo.Method.Echo.descriptor, request: [1], responseType: [UInt8].self) == [1])
        }

        @Test func serverInThisProcessIsRefusedWhileAnotherProcessServes() async throws {
            let directory = try TemporaryDirectory()
            defer { directory.remove() }
            let peer = try TestPeer.start("serve", in: directory)
            defer { peer.stop() }
            _ = try await peer.line(startingWith: "ready")
            let server = try PipeServer(directory: directory.pipes, router: Router())
            let error = #expect(throws: RPCError.self) { try server.start() }
            #expect(error?.code == .failedPrecondition)
            #expect(error?.message.contains("pid \(peer.pid)") == true, "\(error?.message ?? "")")
            // Once the peer is gone, the directory can be served again.
            peer.signal(SIGTERM)
            #expect(try await peer.exitStatus() == .code(0))
            try server.start()
            server.shutdown(graceful: true)
        }

        // MARK: The directory itself

        enum UnsafeDirectory: String, CaseIterable, Sendable, CustomTestStringConvertible {
            case mode0755, mode0750, ownedBySomeoneElse, symlinkToADirectory
            var testDescription: String { rawValue }
        }

        @Test(arguments: UnsafeDirectory.allCases.filter { $0 != .ownedBySomeoneElse || runningAsRoot })
        func unsafePipeDirectoryIsRefused(_ unsafe: UnsafeDirectory) async throws {
            let directory = try TemporaryDirectory()
            defer { directory.remove() }
            // Served while safe, then made unsafe: the client must refuse it as it stands.
            let server = try PipeServer(directory: directory.pipes, router: Router())
            try server.start()
            defer { server.shutdown(graceful: false) }
            let path = directory.pipes.path
            var pipes = directory.pipes
            switch unsafe {
            case .mode0755: #expect(chmod(path, 0o755) == 0)
            case .mode0750: #expect(chmod(path, 0o750) == 0)
            case .ownedBySomeoneElse: #expect(chown(path, 65534, 65534) == 0)
            case .symlinkToADirectory:
                pipes = PipeDirectory(path: directory.file("link"))
                try makeSymlink(pipes.path, to: path)
            }
            let clientError = await rpcError { try await onThread { [pipes] in try PipeConnector.connect(to: pipes) } }
            #expect(clientError?.code == .permissionDenied, "\(clientError?.message ?? "")")

            // A server refuses it too (another server instance; the lock would refuse it anyway, so
            // stop the first one before).
            server.shutdown(graceful: false)
            let second = try PipeServer(directory: pipes, router: Router())
            let serverError = #expect(throws: RPCError.self) { try second.start() }
            #expect(serverError?.code == .permissionDenied, "\(serverError?.message ?? "")")
            if unsafe == .mode0755 {
                #expect(
                    try fileStatus(path).st_mode & 0o777 == 0o755,
                    "the server does not chmod a directory it refuses"
                )
            }
        }
    }
}

// MARK: File helpers

/// Giving a file to another user (`chown`) takes root: the cases that need it run only then.
let runningAsRoot = geteuid() == 0

func makePrivateDirectory(_ path: String) throws {
    guard mkdir(path, 0o700) == 0, chmod(path, 0o700) == 0 else {
        throw RPCError(code: .internal, message: "mkdir \(path): errno \(errno)")
    }
}

func makeSymlink(_ path: String, to target: String) throws {
    guard symlink(target, path) == 0 else {
        throw RPCError(code: .internal, message: "symlink \(path): errno \(errno)")
    }
}

func writeFile(_ path: String, _ bytes: [UInt8]) throws {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
    guard fd >= 0 else { throw RPCError(code: .internal, message: "open \(path): errno \(errno)") }
    defer { close(fd) }
    try RawPipeClient.writeAll(fd, bytes)
}

func readFile(_ path: String) throws -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
    guard fd >= 0 else { throw RPCError(code: .notFound, message: "open \(path): errno \(errno)") }
    defer { close(fd) }
    return readAvailable(fd)
}

/// What can be read from `fd` without waiting.
func readAvailable(_ fd: Int32) -> [UInt8] {
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if count <= 0 { return bytes }
        bytes += buffer[0..<count]
    }
}

func symlinkTarget(_ path: String) throws -> String {
    var buffer = [CChar](repeating: 0, count: 4096)
    let count = readlink(path, &buffer, buffer.count - 1)
    guard count >= 0 else { throw RPCError(code: .notFound, message: "readlink \(path): errno \(errno)") }
    return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

func fileStatus(_ path: String) throws -> stat {
    var info = stat()
    guard lstat(path, &info) == 0 else { throw RPCError(code: .notFound, message: "lstat \(path): errno \(errno)") }
    return info
}

func listDirectory(_ path: String) throws -> [String] {
    do {
        return try FileManager.default.contentsOfDirectory(atPath: path).sorted()
    } catch {
        throw RPCError(code: .notFound, message: "cannot list \(path): \(error)")
    }
}
