#if GRPC
import GRPCCore
import PipeBusCore

// One home for what maps between pipebus's call model and gRPC's: status codes (the same
// numbers), errors and metadata, in both directions.

extension PipeBusCore.RPCError {
    /// The gRPC error a client of the bridge sees for a handler's error.
    static func grpc(for error: any Error) -> GRPCCore.RPCError {
        if let error = error as? GRPCCore.RPCError { return error }
        let status = PipeBusCore.Status(handlerError: error)
        return GRPCCore.RPCError(code: GRPCCore.RPCError.Code(grpcCode: status.code), message: status.message)
    }

    /// A gRPC call's error as the pipe client would have reported it.
    init(grpc error: GRPCCore.RPCError, peer: String) {
        let code = PipeBusCore.StatusCode(rawValue: UInt32(error.code.rawValue))
        self.init(code: code, message: error.message.isEmpty ? "\(code) from \(peer)" : error.message, cause: error.cause.map { "\($0)" })
    }
}

extension GRPCCore.RPCError.Code {
    /// The gRPC code with `code`'s number (UNKNOWN for OK or a number gRPC does not define, which
    /// no handler error has).
    init(grpcCode code: PipeBusCore.StatusCode) {
        self = GRPCCore.Status.Code(rawValue: Int(code.rawValue)).flatMap { GRPCCore.RPCError.Code($0) } ?? .unknown
    }
}

extension PipeBusCore.Metadata {
    /// The request metadata a handler sees: gRPC's, less the transport's own headers.
    init(grpc metadata: GRPCCore.Metadata) {
        self.init()
        for entry in metadata where !entry.key.hasPrefix("grpc-") {
            switch entry.value {
            case .string(let value): add(entry.key, value)
            case .binary(let value): add(entry.key, bytes: value)
            }
        }
    }

    /// As gRPC metadata (binary values only under `-bin` keys, as gRPC requires).
    var grpc: GRPCCore.Metadata {
        var metadata = GRPCCore.Metadata()
        for entry in self {
            if entry.key.hasSuffix("-bin") {
                metadata.addBinary(entry.value, forKey: entry.key)
            } else {
                metadata.addString(entry.text ?? "", forKey: entry.key)
            }
        }
        return metadata
    }
}

/// The `grpc-timeout` header's value (`<digits><unit>`, units H M S m u n; at most 8 digits) as
/// a duration, or nil when absent or malformed: gRPC itself cancels the call at its deadline;
/// this lets a handler see the deadline, as it does on the pipe.
func grpcTimeout(_ metadata: GRPCCore.Metadata) -> Duration? {
    guard let text = metadata[stringValues: "grpc-timeout"].first(where: { _ in true }),
          let unit = text.last, text.count >= 2, text.count <= 9,
          let amount = Int64(text.dropLast()), amount >= 0
    else { return nil }
    switch unit {
    case "H": return .seconds(amount * 3600)
    case "M": return .seconds(amount * 60)
    case "S": return .seconds(amount)
    case "m": return .milliseconds(amount)
    case "u": return .microseconds(amount)
    case "n": return .nanoseconds(amount)
    default: return nil
    }
}
#endif
