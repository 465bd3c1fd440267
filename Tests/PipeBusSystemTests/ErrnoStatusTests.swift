import PipeBusCore
import PipeBusSystem
import SystemPackage
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The one errno-to-status mapping (`Errno.statusCode`), which replaced five that disagreed:
/// the transport's, the spool's, and three that knew only ENOSPC.
@Suite("Errno to status: the one mapping")
struct ErrnoStatusTests {
    /// Every errno the transport, the spool and the sidecar's own files can meet, with the status
    /// each must give.
    static let expected: [(Errno, StatusCode)] = [
        (.noSpace, .resourceExhausted),
        (.diskQuotaExceeded, .resourceExhausted),
        (.tooManyOpenFiles, .resourceExhausted),
        (.tooManyOpenFilesInSystem, .resourceExhausted),
        (.permissionDenied, .permissionDenied),
        (.notPermitted, .permissionDenied),
        (.tooManySymbolicLinkLevels, .permissionDenied),
        (.fileExists, .alreadyExists),
        (.noSuchFileOrDirectory, .notFound),
        (.fileNameTooLong, .invalidArgument),
        (.readOnlyFileSystem, .unavailable),
        (.ioError, .unavailable),
        (.noSuchAddressOrDevice, .unavailable),
        (.brokenPipe, .unavailable),
        (.notDirectory, .unavailable),
        (.improperLink, .unavailable),
    ]

    @Test(arguments: expected.map { $0.0.rawValue })
    func statusOfEachErrno(_ rawValue: Int32) {
        let errno = Errno(rawValue: rawValue)
        let status = Self.expected.first { $0.0 == errno }!.1
        #expect(errno.statusCode == status, "\(errno.symbolicName)")
        let error = SystemCallError("open", path: "/spool/pending/t.json", errno: errno).rpcError(subject: "spool")
        #expect(error.code == status)
        #expect(error.cause == "\(errno.symbolicName) (errno \(rawValue))")
    }

    /// Path, operation and strerror in the message, as the old errors had them.
    @Test func messageNamesOperationPathAndReason() {
        let plain = SystemCallError("mkfifo", path: "/run/pipes/c1.c2s", errno: .noSpace).rpcError()
        #expect(plain.message == "mkfifo /run/pipes/c1.c2s: No space left on device (errno 28)")
        #expect(plain.code == .resourceExhausted)
        #expect(plain.cause == "ENOSPC (errno 28)")

        let spool = SystemCallError("write", path: "/spool/pending/t.json", errno: .noSpace).rpcError(subject: "spool")
        #expect(spool.message == "spool disk full: write /spool/pending/t.json: No space left on device (errno 28)")

        let noPath = SystemCallError("poll", errno: .badFileDescriptor)
        #expect(noPath.description == "poll: Bad file descriptor (errno 9)")
        #expect(noPath.rpcError().cause == "EBADF (errno 9)")
    }

    /// A hostile file name cannot forge a log line through an error message.
    @Test func controlCharactersInAPathAreEscaped() {
        let error = SystemCallError("lstat", path: FilePath("/spool/pending/x\ny"), errno: .ioError)
        #expect(error.description.hasPrefix("lstat /spool/pending/x\\u{a}y: "))
    }

    /// Real calls give the mapped statuses: a missing file, an existing one, a symlink refused.
    @Test func realFailuresMapThroughTheLayer() throws {
        var template = Array("/tmp/pipebus-system-XXXXXX".utf8CString)
        guard mkdtemp(&template) != nil else { throw SystemCallError("mkdtemp", errno: .latest) }
        let directory = template.withUnsafeBufferPointer { FilePath(platformString: $0.baseAddress!) }
        defer {
            for entry in (try? directory.entries()) ?? [] { directory.appending(entry.name).removeIfPresent() }
            _ = rmdir(directory.description)
        }
        let missing = directory.appending("missing")
        #expect(try missing.lstat() == nil)
        #expect(throws: SystemCallError("open", path: missing, errno: .noSuchFileOrDirectory)) {
            try missing.open(.readOnly, options: .untrusted)
        }

        let fifo = directory.appending("fifo")
        try fifo.makeFIFO(permissions: .ownerReadWrite)
        do {
            try fifo.makeFIFO(permissions: .ownerReadWrite)
            Issue.record("a second mkfifo succeeded")
        } catch let error as SystemCallError {
            #expect(error.rpcError().code == .alreadyExists)
            #expect(error.rpcError().message.contains("mkfifo \(fifo)"))
        }

        let link = directory.appending("link")
        #expect(symlink(fifo.description, link.description) == 0)
        do {
            _ = try link.open(.readOnly, options: .untrusted)
            Issue.record("opened a symlink with O_NOFOLLOW")
        } catch let error as SystemCallError {
            #expect(error.errno == .tooManySymbolicLinkLevels)
            #expect(error.rpcError().code == .permissionDenied)
        }
    }
}
