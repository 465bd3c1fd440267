#if canImport(Glibc)
import Glibc
#endif

extension ChildProcess {
    /// How a child ended: its exit code, or the signal that killed it.
    public struct Exit: Hashable, Sendable, CustomStringConvertible {
        /// The exit code, when it exited.
        public var code: Int32?
        /// The signal that ended it, when one did.
        public var signal: Int32?

        public init(code: Int32?, signal: Int32?) {
            self.code = code
            self.signal = signal
        }

        public static func code(_ code: Int32) -> Exit { Exit(code: code, signal: nil) }
        public static func signal(_ signal: Int32) -> Exit { Exit(code: nil, signal: signal) }

        /// From a `waitpid` status (WIFEXITED / WTERMSIG spelled out: the macros are not imported).
        init(waitStatus status: Int32) {
            let termination = status & 0x7F
            if termination == 0 {
                self = .code((status >> 8) & 0xFF)
            } else {
                self = .signal(termination)
            }
        }

        /// What a shell reports: the code, or 128 + the signal.
        public var shellStatus: Int32 { code ?? 128 + (signal ?? 0) }

        public var description: String {
            if let code { return "exit code \(code)" }
            guard let number = signal else { return "ended, status unknown (reaped elsewhere)" }
            let name = strsignal(number).map { String(cString: $0) } ?? "?"
            return "killed by signal \(number) (\(name))"
        }
    }
}
