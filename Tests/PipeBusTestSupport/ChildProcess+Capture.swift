import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// How a child's captured output is read and its end observed.
///
/// One reader thread waits (poll) on the read ends of the captured pipes and reads them as the
/// child writes, so the child never stalls on a full pipe. The reaper thread waits for the child
/// to end without reaping it (`waitid` with `WNOWAIT`), then, holding the state lock, reaps it
/// and reads what is left in the pipes: everything the child itself wrote is there by then, so
/// `exited` is never set before the last of its output is. Whatever the child left running with
/// its stdio (a grandchild) is still read afterwards, until it too closes the pipe.
extension ChildProcess {
    struct Captured {
        /// The pipe's read end (non-blocking); -1 when not captured or closed.
        var fd: Int32 = -1
        /// Read to end of file (the reader thread then closes `fd`).
        var endOfFile = false
        var bytes: [UInt8] = []
        var lines: [String] = []
        /// Where the unfinished line starts in `bytes`.
        var lineStart = 0
    }

    struct LineWaiter {
        var stream: Stream
        var matches: @Sendable (String) -> Bool
        var event: TestEvent<String?>
    }

    struct State {
        var stdout = Captured()
        var stderr = Captured()
        var waiters: [LineWaiter] = []
        /// Set, under the lock, together with the `waitpid` that reaps the child.
        var reaped = false

        subscript(stream: Stream) -> Captured {
            get { stream == .stdout ? stdout : stderr }
            set {
                if stream == .stdout { stdout = newValue } else { stderr = newValue }
            }
        }

        /// Reads every open pipe until it would block; returns the line waiters to fulfil.
        mutating func drain() -> [(TestEvent<String?>, String?)] {
            // In place (`inout` on the stored property): a copy of `Captured` would copy all the
            // output so far on every read.
            Self.drain(&stdout, .stdout, &waiters) + Self.drain(&stderr, .stderr, &waiters)
        }

        private static func drain(
            _ captured: inout Captured,
            _ stream: Stream,
            _ waiters: inout [LineWaiter]
        ) -> [(TestEvent<String?>, String?)] {
            guard captured.fd >= 0, !captured.endOfFile else { return [] }
            var fired: [(TestEvent<String?>, String?)] = []
            var newLines: [String] = []
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(captured.fd, $0.baseAddress, $0.count) }
                if count > 0 {
                    let searchFrom = captured.bytes.count
                    captured.bytes.append(contentsOf: buffer[0..<count])
                    // Only the bytes just read are searched for line ends.
                    captured.bytes.withUnsafeBufferPointer { bytes in
                        var index = searchFrom
                        while index < bytes.count,
                            let found = memchr(bytes.baseAddress! + index, 0x0A, bytes.count - index)
                        {
                            let newline = bytes.baseAddress!.distance(to: found.assumingMemoryBound(to: UInt8.self))
                            let line = String(decoding: bytes[captured.lineStart..<newline], as: UTF8.self)
                            captured.lines.append(line)
                            newLines.append(line)
                            captured.lineStart = newline + 1
                            index = newline + 1
                        }
                    }
                } else if count == 0 {
                    captured.endOfFile = true
                    break
                } else if errno == EINTR {
                    continue
                } else {
                    // EAGAIN: nothing more for now. Anything else: nothing more ever.
                    if errno != EAGAIN { captured.endOfFile = true }
                    break
                }
            }
            for line in newLines {
                waiters.removeAll { waiter in
                    guard waiter.stream == stream, waiter.matches(line) else { return false }
                    fired.append((waiter.event, line))
                    return true
                }
            }
            if captured.endOfFile {
                waiters.removeAll { waiter in
                    guard waiter.stream == stream else { return false }
                    fired.append((waiter.event, nil))
                    return true
                }
            }
            return fired
        }

        /// Ends the waiters for `stream` (all of them when nil): no such line will come.
        mutating func endWaiters(on stream: Stream?) -> [(TestEvent<String?>, String?)] {
            var ended: [(TestEvent<String?>, String?)] = []
            waiters.removeAll { waiter in
                guard stream == nil || waiter.stream == stream else { return false }
                ended.append((waiter.event, nil))
                return true
            }
            return ended
        }
    }

    /// The reader thread's body: until every captured pipe is at end of file.
    func readCapturedOutput() {
        while true {
            let open = state.withLock { state in [state.stdout.fd, state.stderr.fd].filter { $0 >= 0 } }
            if open.isEmpty { return }
            var polled = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            if poll(&polled, nfds_t(polled.count), -1) < 0 && errno != EINTR { return }
            let fired = state.withLock { state -> [(TestEvent<String?>, String?)] in
                let fired = state.drain()
                // Only this thread closes the read ends, so the poll above never waits on a
                // descriptor number that was closed and reused meanwhile.
                for stream in [Stream.stdout, .stderr] where state[stream].fd >= 0 && state[stream].endOfFile {
                    close(state[stream].fd)
                    state[stream].fd = -1
                }
                return fired
            }
            for (event, line) in fired { event.fulfill(line) }
        }
    }

    /// The reaper thread's body: waits for the end, reaps, reads what is left, reports the exit.
    func reap() {
        var info = siginfo_t()
        while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) != 0 && errno == EINTR {}
        let (exit, fired) = state.withLock { state -> (Exit, [(TestEvent<String?>, String?)]) in
            var status: Int32 = 0
            var result: pid_t
            repeat { result = waitpid(pid, &status, 0) } while result < 0 && errno == EINTR
            state.reaped = true
            // ECHILD: something else reaped it (SIGCHLD set to SIG_IGN in this process).
            let exit = result == pid ? Exit(waitStatus: status) : Exit(code: nil, signal: nil)
            return (exit, state.drain() + state.endWaiters(on: nil))
        }
        for (event, line) in fired { event.fulfill(line) }
        exitEvent.fulfill(exit)
    }
}
