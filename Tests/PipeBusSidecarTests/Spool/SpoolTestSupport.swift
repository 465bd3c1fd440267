import Foundation
import Logging
import PipeBusCore
import PipeBusTestSupport
import Testing

@testable import PipeBusSidecar

#if canImport(Glibc)
import Glibc
#endif

/// A spool in a fresh directory, with its logger's lines recorded.
@discardableResult
func withSpool<Result>(
    configuration: TaskSpool.Configuration = .defaults,
    _ body: (TaskSpool, LogRecorder) throws -> Result
) throws -> Result {
    try withTemporaryDirectory { root in
        let recorder = LogRecorder()
        let spool = try TaskSpool(root: root, worker: "marie", configuration: configuration, logger: recorder.logger)
        return try body(spool, recorder)
    }
}

/// Keeps every log line, for tests that check what was logged. An NSLock rather than a
/// `Mutex`: ThreadSanitizer does not see the futex under `Mutex` on Linux and reports a race.
final class LogRecorder: @unchecked Sendable {
    struct Line: Sendable {
        var level: Logger.Level
        var message: String
        var metadata: Logger.Metadata
    }

    private let lock = NSLock()
    private var storage: [Line] = []  // guarded by `lock`

    var lines: [Line] { lock.withLock { storage } }

    var logger: Logger {
        Logger(label: "spool-test") { _ in Handler(recorder: self) }
    }

    fileprivate func append(_ line: Line) { lock.withLock { storage.append(line) } }

    private struct Handler: LogHandler {
        let recorder: LogRecorder
        var metadata: Logger.Metadata = [:]
        var metadataProvider: Logger.MetadataProvider?
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let merged = metadata.merging(event.metadata ?? [:]) { $1 }
            recorder.append(Line(level: event.level, message: event.message.description, metadata: merged))
        }
    }
}

/// Collects watcher events and lets a test wait, with a deadline, until they satisfy a condition.
final class EventRecorder: @unchecked Sendable {
    private let condition = NSCondition()
    private var events: [SpoolEvent] = []  // guarded by `condition`

    var handler: @Sendable (SpoolEvent) -> Void {
        { [self] event in
            condition.lock()
            events.append(event)
            condition.broadcast()
            condition.unlock()
        }
    }

    var snapshot: [SpoolEvent] {
        condition.lock()
        defer { condition.unlock() }
        return events
    }

    /// Waits until `predicate` holds for the events so far, or `timeout` passes; returns them.
    @discardableResult
    func wait(timeout: Duration = .seconds(5), until predicate: ([SpoolEvent]) -> Bool) -> [SpoolEvent] {
        let deadline = Date().addingTimeInterval(timeout.seconds)
        condition.lock()
        defer { condition.unlock() }
        while !predicate(events) {
            if !condition.wait(until: deadline) { break }
        }
        return events
    }

    /// Waits until `event` has arrived; true if it did in time.
    func waitFor(_ event: SpoolEvent, timeout: Duration = .seconds(5)) -> Bool {
        wait(timeout: timeout) { $0.contains(event) }.contains(event)
    }
}

/// Sets a file's mtime (and atime) `age` in the past without following a symlink.
func makeOld(_ path: String, by age: Duration) throws {
    let then = Date().addingTimeInterval(-age.seconds)
    var times = [timespec](repeating: timespec(tv_sec: Int(then.timeIntervalSince1970), tv_nsec: 0), count: 2)
    guard utimensat(AT_FDCWD, path, &times, AT_SYMLINK_NOFOLLOW) == 0 else {
        throw RPCError(code: .internal, message: "utimensat \(path): errno \(errno)")
    }
}

/// The names in a folder, hidden ones included, sorted.
func entries(_ directory: String) throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
}

/// Parses a file written by the spool.
func readObject(_ path: String) throws -> [String: Any] {
    let data = try Data(contentsOf: URL(fileURLWithPath: path))
    return try #require(JSONSerialization.jsonObject(with: data) as? [String: Any])
}

/// Writes bytes the way a person or a script would: open, write, close; no temp file.
func writeByHand(_ path: String, _ text: String) throws {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw RPCError(code: .internal, message: "open \(path): errno \(errno)") }
    defer { close(fd) }
    let bytes = Array(text.utf8)
    guard write(fd, bytes, bytes.count) == bytes.count else {
        throw RPCError(code: .internal, message: "write \(path): errno \(errno)")
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

/// Expects `body` to throw an `RPCError` with `code`; returns it.
@discardableResult
func expectRPCError(
    _ code: StatusCode,
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () throws -> Void
) -> RPCError? {
    do {
        try body()
        Issue.record("expected \(code), but nothing was thrown", sourceLocation: sourceLocation)
        return nil
    } catch let error as RPCError {
        #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
        return error
    } catch {
        Issue.record("expected RPCError \(code), got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

/// The wall clock a spool measures ages on, moved forward by the test: real time plus an
/// offset. (An mtime set into the past does not age a task: its ctime stays recent.)
final class TestClock: @unchecked Sendable {
    private let lock = NSLock()
    private var offset: TimeInterval = 0  // guarded by `lock`

    func now() -> Date { Date().addingTimeInterval(lock.withLock { offset }) }

    func advance(by duration: Duration) { lock.withLock { offset += duration.seconds } }

    /// A spool configuration on this clock.
    var configuration: TaskSpool.Configuration {
        var configuration = TaskSpool.Configuration.defaults
        configuration.clock = { [self] in now() }
        return configuration
    }
}

/// Renames a file the way a spool worker does (`os.rename`): the mtime stays, the ctime moves.
func renameByHand(_ from: String, _ to: String) throws {
    guard rename(from, to) == 0 else { throw RPCError(code: .internal, message: "rename \(from): errno \(errno)") }
}

/// A file's status, without following a symlink.
func fileStatus(_ path: String) throws -> stat {
    var info = stat()
    guard lstat(path, &info) == 0 else { throw RPCError(code: .internal, message: "lstat \(path): errno \(errno)") }
    return info
}
