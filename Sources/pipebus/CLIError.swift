import PipeBusClient
import PipeBusCore

/// An error the command line reports as `error: <message>` (with `--json`, as
/// `{"error": {"code": …, "message": …}}`) and exit status 1.
struct CLIError: Error, CustomStringConvertible {
    /// What kind of failure, for scripts (`--json`): gRPC's status names in lower case where a
    /// call failed (`unavailable`, `deadline_exceeded`, `not_found`, …), `failed` otherwise.
    var code: String
    var message: String

    init(_ message: String, code: String = "failed") {
        self.code = code
        self.message = message
    }

    var description: String { message }

    /// Whether the sidecar could not be reached at all (not running, or gone): a command that
    /// can read the files itself (`config`) does so then.
    var isUnreachable: Bool { code == Self.unavailable }

    static let unavailable = "unavailable"

    /// A failed call, said for a person: who could not be reached, or what the sidecar refused.
    init(_ error: any Error, worker: String) {
        switch error {
        case let error as CLIError:
            self = error
        case let error as RPCError where error.code == .unavailable && error.message.hasPrefix("sidecar of worker \(worker) at "):
            // A remote sidecar's client names its target already.
            self.init("the \(error.message)", code: Self.unavailable)
        case let error as RPCError where error.code == .unavailable:
            self.init(
                "the sidecar of worker \(worker) is not reachable: \(Self.detail(error.message, worker: worker))",
                code: Self.unavailable
            )
        case let error as RPCError where error.code == .deadlineExceeded:
            self.init("the sidecar of worker \(worker) did not answer in time (\(error.message))", code: "deadline_exceeded")
        case let error as RPCError:
            self.init("\(error.message) (\(error.code))", code: error.code.description.lowercased())
        case let error as BreakerOpenError:
            self.init("worker \(worker): \(error.message)", code: Self.unavailable)
        default:
            self.init("worker \(worker): \(error)")
        }
    }

    /// The reason alone: `SidecarClient` already says "sidecar of worker W is not reachable: …",
    /// which this type says too (for errors that come from elsewhere, e.g. a stream), so the
    /// phrase would otherwise appear twice.
    static func detail(_ message: String, worker: String) -> String {
        var detail = Substring(message)
        let phrase = "sidecar of worker \(worker) is not reachable: "
        while detail.hasPrefix(phrase) { detail = detail.dropFirst(phrase.count) }
        return String(detail)
    }
}
