import Glibc

/// Starts the measured part of several client peers at once: each arrives when its warmup is
/// done, and all go when the harness releases them.
///
/// Two FIFOs in a private directory: `ready` (each participant writes one byte) and `go`
/// (participants wait for its end of file). The harness opens both read-write before any
/// participant starts, so no open blocks and no participant can miss the release.
final class StartBarrier {
    let directory: String
    private var readyFD: Int32 = -1
    private var goFD: Int32 = -1

    /// Creates the FIFOs in `directory` (an existing private directory).
    init(directory: String) throws {
        self.directory = directory
        for path in [Self.readyPath(directory), Self.goPath(directory)] where mkfifo(path, 0o600) != 0 {
            throw BenchError("mkfifo \(path)", errno: errno)
        }
        readyFD = open(Self.readyPath(directory), O_RDWR | O_CLOEXEC | O_NONBLOCK)
        goFD = open(Self.goPath(directory), O_RDWR | O_CLOEXEC)
        guard readyFD >= 0, goFD >= 0 else { throw BenchError("opening the start barrier", errno: errno) }
    }

    deinit {
        if readyFD >= 0 { close(readyFD) }
        if goFD >= 0 { close(goFD) }
    }

    /// Waits until `count` participants have arrived, or throws after `timeout`.
    func waitForArrivals(_ count: Int, timeout: Duration) throws {
        let giveUp = MonotonicClock.nanoseconds() + UInt64(timeout.inNanoseconds)
        var arrived = 0
        var buffer = [UInt8](repeating: 0, count: 64)
        while arrived < count {
            let now = MonotonicClock.nanoseconds()
            guard now < giveUp else {
                throw BenchError("only \(arrived) of \(count) client peers reached the start barrier")
            }
            var entry = pollfd(fd: readyFD, events: Int16(POLLIN), revents: 0)
            _ = poll(&entry, 1, Int32(min(250, (giveUp - now) / 1_000_000 + 1)))
            let got = read(readyFD, &buffer, buffer.count)
            if got > 0 { arrived += got }
        }
    }

    /// Lets every participant start.
    func release() {
        if goFD >= 0 { close(goFD) }
        goFD = -1
    }

    /// A participant's side: arrive, then wait for the release (end of file on `go`).
    static func arriveAndWait(directory: String) throws {
        let go = open(goPath(directory), O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard go >= 0 else { throw BenchError("opening \(goPath(directory))", errno: errno) }
        defer { close(go) }
        let ready = open(readyPath(directory), O_WRONLY | O_CLOEXEC | O_NONBLOCK)
        guard ready >= 0 else { throw BenchError("opening \(readyPath(directory))", errno: errno) }
        var byte: UInt8 = 1
        let written = write(ready, &byte, 1)
        close(ready)
        guard written == 1 else { throw BenchError("arriving at the start barrier", errno: errno) }
        var scratch: UInt8 = 0
        while true {
            var entry = pollfd(fd: go, events: Int16(POLLIN), revents: 0)
            let ready = poll(&entry, 1, 60_000)
            if ready == 0 { throw BenchError("the harness never released the start barrier") }
            if ready < 0 && errno != EINTR { throw BenchError("polling the start barrier", errno: errno) }
            if ready > 0 && read(go, &scratch, 1) == 0 { return }
        }
    }

    private static func readyPath(_ directory: String) -> String { directory + "/ready" }
    private static func goPath(_ directory: String) -> String { directory + "/go" }
}
