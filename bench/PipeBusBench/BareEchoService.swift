#if GRPC
import GRPCCore

/// The `grpc-bridge` scenario's baseline: the least a grpc-swift-2 user writes to serve a 64 B
/// echo. One unary method, bytes in and bytes out through identity serializers, no router, no
/// protobuf: what the bridge's figures are divided by.
struct BareEchoService: RegistrableRPCService {
    static let method = MethodDescriptor(fullyQualifiedService: "pipebus.bench.BareEcho", method: "Echo")

    func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
        router.registerHandler(forMethod: Self.method, deserializer: IdentityCoder(), serializer: IdentityCoder()) { request, _ in
            let single = try await ServerRequest(stream: request)
            return StreamingServerResponse(single: ServerResponse(message: single.message))
        }
    }
}

/// Bytes as they are on the wire, both ways.
struct IdentityCoder: MessageSerializer, MessageDeserializer {
    func serialize<Bytes: GRPCContiguousBytes>(_ message: [UInt8]) throws -> Bytes {
        Bytes(message)
    }

    func deserialize<Bytes: GRPCContiguousBytes>(_ serializedMessageBytes: Bytes) throws -> [UInt8] {
        serializedMessageBytes.withUnsafeBytes { Array($0) }
    }
}
#endif
