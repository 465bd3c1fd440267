import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Where the command line writes: results on standard output, errors and progress on
/// standard error, JSON for scripts.
enum Console {
    /// Text on standard output, written at once (no stdio buffer: live views and the tests
    /// that read them see each line when it is printed).
    static func out(_ text: String, terminator: String = "\n") {
        write(text + terminator, to: STDOUT_FILENO)
    }

    /// A line on standard error (errors, progress of long operations).
    static func error(_ line: String) {
        write(line + "\n", to: STDERR_FILENO)
    }

    /// Serializes writers, so lines printed by concurrent tasks (a live view of several
    /// workers) never interleave, even when a write is split.
    private static let writing = Mutex(())

    /// Writes all of `text` with write(2). A reader that went away (`pipebus watch | head -1`)
    /// ends the process as it ends `cat`: by SIGPIPE, silently (status 141 in a shell), so
    /// `set -o pipefail` sees it as it would see `cat`. The process ignores SIGPIPE for its
    /// pipes, so the write returns EPIPE instead; FileHandle.write trapped on that (a crash
    /// and a backtrace at 3 a.m.).
    private static func write(_ text: String, to fd: Int32) {
        let bytes = Array(text.utf8)
        writing.withLock { _ in
            var offset = 0
            while offset < bytes.count {
                let count = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
                if count >= 0 {
                    offset += count
                    continue
                }
                switch errno {
                case EINTR:  // the pipe transport's wake signal interrupts without SA_RESTART
                    continue
                case EAGAIN:  // a descriptor left non-blocking by whoever gave it to us
                    var ready = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                    _ = poll(&ready, 1, -1)
                case EPIPE:
                    endAsIfKilledBySIGPIPE()
                default:
                    return  // nothing sensible to say it on (EBADF, ENOSPC on a file): drop it
                }
            }
        }
    }

    /// The default action of SIGPIPE, now: unblocked and restored, then raised.
    private static func endAsIfKilledBySIGPIPE() -> Never {
        signal(SIGPIPE, SIG_DFL)
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGPIPE)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
        raise(SIGPIPE)
        _exit(128 + SIGPIPE)  // not reached: the signal ends the process before raise returns
    }

    /// Whether standard output is a terminal (live tables redraw in place only there).
    static var isTerminal: Bool { isatty(1) == 1 }

    /// A JSON value as text: keys sorted; pretty unless `compact` (one line, for streams).
    static func jsonText(_ value: Any, compact: Bool = false) -> String {
        var options: JSONSerialization.WritingOptions = [.sortedKeys, .withoutEscapingSlashes, .fragmentsAllowed]
        if !compact { options.insert(.prettyPrinted) }
        guard let data = try? JSONSerialization.data(withJSONObject: value, options: options) else { return "null" }
        return String(decoding: data, as: UTF8.self)
    }

    /// Prints a JSON value on standard output.
    static func printJSON(_ value: Any, compact: Bool = false) {
        out(jsonText(value, compact: compact))
    }

    /// ANSI: cursor home, then each line cleared to its end, then the rest of the screen cleared,
    /// so a table redraws in place without flicker.
    static func redraw(_ text: String) {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let body = lines.map { $0 + "\u{1B}[K" }.joined(separator: "\n")
        out("\u{1B}[H" + body + "\n\u{1B}[J", terminator: "")
    }

    /// Clears the screen once, before the first redraw.
    static func clearScreen() {
        out("\u{1B}[H\u{1B}[2J", terminator: "")
    }
}
