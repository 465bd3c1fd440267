internal import CPipeBusShim
package import SystemPackage

#if canImport(Glibc)
package import Glibc
#endif

// FIFO and eventfd calls off the hot path: the connect FIFO's listener, setting up a
// connection, waking a poller. (The connection's own reads and writes are in PipeBusPipes'
// `HotPathSyscalls`.)
extension FileDescriptor {
    /// An eventfd, non-blocking and close-on-exec: a poller's wake-up.
    package static func eventFD() throws -> FileDescriptor {
        FileDescriptor(rawValue: try systemCall("eventfd") { pipebus_eventfd() })
    }

    /// Adds one to this eventfd; a full counter already wakes its poller, so a failure is moot.
    package func signalEvent() {
        var one: UInt64 = 1
        _ = withUnsafeBytes(of: &one) { Glibc.write(rawValue, $0.baseAddress, 8) }
    }

    /// Resets this eventfd (non-blocking: nothing to drain is fine).
    package func drainEvent() {
        var value: UInt64 = 0
        _ = withUnsafeMutableBytes(of: &value) { Glibc.read(rawValue, $0.baseAddress, 8) }
    }

    /// Reads once from a non-blocking descriptor; 0 is end of stream; nil means it would block.
    package func readNonBlocking(into buffer: UnsafeMutableRawBufferPointer) throws -> Int? {
        do {
            return try read(into: buffer, retryOnInterrupt: true)
        } catch let errno as Errno where errno == .wouldBlock || errno == .resourceTemporarilyUnavailable {
            return nil
        } catch let errno as Errno {
            throw SystemCallError("read", errno: errno)
        }
    }

    /// Writes once to a non-blocking descriptor; nil means it would block.
    package func writeNonBlocking(_ buffer: UnsafeRawBufferPointer) throws -> Int? {
        do {
            return try write(buffer, retryOnInterrupt: true)
        } catch let errno as Errno where errno == .wouldBlock || errno == .resourceTemporarilyUnavailable {
            return nil
        } catch let errno as Errno {
            throw SystemCallError("write", errno: errno)
        }
    }

    /// Asks for a pipe buffer of `size` bytes (F_SETPIPE_SZ); the size granted, or nil when the
    /// per-user pipe budget refused it (the default then stays, DESIGN §5).
    @discardableResult
    package func setPipeSize(_ size: Int) -> Int? {
        let result = pipebus_set_pipe_size(rawValue, Int32(clamping: size))
        return result > 0 ? Int(result) : nil
    }

    /// Clears O_NONBLOCK; false if that failed.
    package func setBlocking() -> Bool { pipebus_set_nonblocking(rawValue, 0) == 0 }

    /// poll(2) on `entries`, leaving each entry's revents; the number of entries ready (0 on
    /// timeout), or nil when a signal interrupted it (every revents 0: the caller looks again).
    /// `timeout` nil waits forever.
    @discardableResult
    package static func poll(_ entries: inout [pollfd], timeout: Duration?) throws -> Int? {
        let milliseconds: Int32
        if let timeout {
            let (seconds, attoseconds) = timeout.components
            let total = seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
            milliseconds = Int32(clamping: max(0, total))
        } else {
            milliseconds = -1
        }
        let count = entries.count
        let result = entries.withUnsafeMutableBufferPointer { Glibc.poll($0.baseAddress, nfds_t(count), milliseconds) }
        if result < 0 {
            let errno = Errno.latest
            if errno == .interrupted {
                for index in entries.indices { entries[index].revents = 0 }
                return nil
            }
            throw SystemCallError("poll", errno: errno)
        }
        return Int(result)
    }
}

/// SIGPIPE would kill the process on a write to a FIFO whose reader left; ignoring it makes the
/// write return EPIPE instead (DESIGN §6).
package func ignoreBrokenPipeSignal() {
    _ = signal(SIGPIPE, SIG_IGN)
}

/// This process's effective user, the owner every FIFO and pipe directory must have.
package var effectiveUserID: UserID { UserID(rawValue: geteuid()) }
