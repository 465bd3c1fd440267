import PipeBusCore
@testable import PipeBusPipes
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The blocking read (no `poll`) is woken by a signal: wake(), close() and timeouts must reach
/// it however they race with its entry into `read(2)`.
@Suite struct BlockingReadTests {
    /// A connection over an anonymous pipe, and the pipe's write end to feed it.
    private func makeIO() throws -> (FIFOConnectionIO, Int32) {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        let io = try FIFOConnectionIO(readFD: fds[0], writeFD: nil, readPolicy: .init(), metrics: nil)
        return (io, fds[1])
    }

    /// Runs one read on a thread and returns its outcome (or the error's code).
    private func readOnThread(_ io: FIFOConnectionIO, timeout: Duration?, tolerance: Duration = .zero) -> OSThread.Result {
        let result = ResultBox()
        let thread = OSThread(name: "test-reader") {
            var decoder = FrameDecoder()
            let outcome: String
            do {
                outcome = "\(try io.read(into: &decoder, timeout: timeout, tolerance: tolerance))"
            } catch let error as RPCError {
                outcome = "\(error.code)"
            } catch {
                outcome = "\(error)"
            }
            result.value.withLock { $0 = outcome }
        }
        return OSThread.Result(thread: thread, value: result)
    }

    @Test func wakeReachesTheReaderWhateverTheTiming() throws {
        let (io, writeFD) = try makeIO()
        defer { close(writeFD) }
        for round in 0..<300 {
            let reader = readOnThread(io, timeout: nil)
            // From "before the reader starts" to "long after it blocked".
            if round % 3 != 0 { usleep(UInt32(round % 50)) }
            io.wake()
            #expect(reader.joined() == "woken")
        }
    }

    @Test func bytesEndABlockingRead() throws {
        let (io, writeFD) = try makeIO()
        defer { close(writeFD) }
        let reader = readOnThread(io, timeout: nil)
        usleep(2_000)
        var byte: UInt8 = 7
        #expect(write(writeFD, &byte, 1) == 1)
        #expect(reader.joined() == "bytes(1)")
    }

    @Test func closeFailsABlockedRead() throws {
        let (io, writeFD) = try makeIO()
        defer { close(writeFD) }
        let reader = readOnThread(io, timeout: nil)
        usleep(2_000)
        io.close()
        #expect(reader.joined() == "\(StatusCode.unavailable)")
    }

    @Test func aSoftTimeoutEndsABlockingRead() throws {
        let (io, writeFD) = try makeIO()
        defer { close(writeFD) }
        for _ in 0..<3 {
            let start = ContinuousClock.now
            let reader = readOnThread(io, timeout: .milliseconds(20), tolerance: .milliseconds(5))
            #expect(reader.joined() == "timedOut")
            let elapsed = start.duration(to: .now)
            #expect(elapsed >= .milliseconds(20) && elapsed < .seconds(1))
        }
    }

    /// The client's leader reads on a cooperative-pool thread, where dispatch blocks most
    /// signals: the wake signal must still get through.
    @Test func aPoolThreadReaderIsWokenToo() async throws {
        let (io, writeFD) = try makeIO()
        defer { close(writeFD) }
        let outcome = try await Task.detached {
            var decoder = FrameDecoder()
            return try io.read(into: &decoder, timeout: .milliseconds(10), tolerance: .milliseconds(5))
        }.value
        #expect(outcome == .timedOut)
    }

    @Test func endOfStreamEndsABlockingRead() throws {
        let (io, writeFD) = try makeIO()
        let reader = readOnThread(io, timeout: nil)
        usleep(2_000)
        close(writeFD)
        #expect(reader.joined() == "endOfStream")
    }
}

extension OSThread {
    /// A thread and where it leaves its result.
    struct Result {
        let thread: OSThread
        let value: ResultBox

        func joined() -> String? {
            thread.join()
            return value.value.withLock { $0 }
        }
    }
}

final class ResultBox: Sendable {
    let value = Mutex<String?>(nil)
}
