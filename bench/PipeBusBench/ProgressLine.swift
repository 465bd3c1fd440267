import Glibc
import Synchronization

/// A status line on stderr while scenarios run: rewritten in place on a terminal, one line per
/// step otherwise (so that a log file shows what ran without hundreds of ticks).
final class ProgressLine: Sendable {
    private struct State {
        var step = ""
        var isShown = false
    }

    private let state = Mutex(State())
    private let isTerminal = isatty(STDERR_FILENO) == 1

    /// Starts a step, e.g. "[baseline 3/10] ping-pong 64 B two-vCPU".
    func begin(_ step: String) {
        state.withLock { state in
            state.step = step
            if isTerminal {
                Self.write("\r\u{1B}[2K" + step)
                state.isShown = true
            } else {
                Self.write(step + "\n")
            }
        }
    }

    /// Shows how long the current step has been running (terminal only).
    func tick(elapsed: Duration) {
        guard isTerminal else { return }
        state.withLock { state in
            Self.write("\r\u{1B}[2K" + state.step + "  " + ReportFormat.seconds(elapsed))
            state.isShown = true
        }
    }

    /// Prints a message (a warning, or what a peer wrote to stderr) on a line of its own.
    func relay(_ text: String) {
        guard !text.isEmpty else { return }
        state.withLock { state in
            if state.isShown { Self.write("\r\u{1B}[2K") }
            Self.write(text.hasSuffix("\n") ? text : text + "\n")
            if state.isShown { Self.write(state.step) }
        }
    }

    /// Erases the line, before the results are printed.
    func clear() {
        state.withLock { state in
            if state.isShown { Self.write("\r\u{1B}[2K") }
            state.isShown = false
        }
    }

    private static func write(_ text: String) {
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { all in
                Glibc.write(STDERR_FILENO, all.baseAddress.map { $0 + offset }, all.count - offset)
            }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { return }  // stderr gone: nothing useful left to do
            offset += written
        }
    }
}
