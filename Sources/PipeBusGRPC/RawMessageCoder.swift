#if GRPC
import GRPCCore

/// A message as the protobuf bytes it already is: the bridge hands them to the pipe's handlers
/// (and takes theirs back) without decoding, so protobuf-c stays the only message code.
struct RawMessageCoder: MessageSerializer, MessageDeserializer {
    func serialize<Bytes: GRPCContiguousBytes>(_ message: [UInt8]) throws -> Bytes {
        Bytes(message)
    }

    func deserialize<Bytes: GRPCContiguousBytes>(_ serializedMessageBytes: Bytes) throws -> [UInt8] {
        serializedMessageBytes.withUnsafeBytes { Array($0) }
    }
}
#endif
