import PipeBusClient
import PipeBusCore

/// An error the command line reports as `error: <message>` and exit status 1.
struct CLIError: Error, CustomStringConvertible {
    var message: String

    init(_ message: String) {
        self.message = message
    }

    var description: String { message }

    /// A failed call, said for a person: who could not be reached, or what the sidecar refused.
    init(_ error: any Error, worker: String) {
        switch error {
        case let error as CLIError:
            self = error
        case let error as RPCError where error.code == .unavailable:
            self.init("the sidecar of worker \(worker) is not reachable: \(error.message)")
        case let error as RPCError where error.code == .deadlineExceeded:
            self.init("the sidecar of worker \(worker) did not answer in time (\(error.message))")
        case let error as RPCError:
            self.init("\(error.message) (\(error.code))")
        case let error as BreakerOpenError:
            self.init("worker \(worker): \(error.message)")
        default:
            self.init("worker \(worker): \(error)")
        }
    }
}
