/// A bounds check on a protobuf body before protobuf-c unpacks it.
///
/// protobuf-c allocates per field and has no limit of its own, so a 4 MiB body of empty
/// repeated submessages could cost ~40× its size, and so could one of unknown fields, which it
/// keeps, each in an allocation of its own (a 4 MiB envelope of 2-byte unknown fields took
/// ~110 MB and seconds to unpack). This walks the top-level fields once, and the fields of the
/// submessages named in `nestedFields` (one level, no allocation), checks that they are
/// well-formed, counts the repeated ones, and bounds the rest: a message has at most
/// `otherFieldsLimit` fields besides its counted repeated ones.
public enum WireScan {
    /// Fields a message may carry besides its counted repeated field: every singular field once,
    /// with room for fields a newer peer adds. Encoders never repeat a singular field.
    static let otherFieldsLimit = 64

    /// Throws INTERNAL when `body` is not a well-formed sequence of top-level fields, and
    /// RESOURCE_EXHAUSTED when field `repeatedField` occurs more than `limit` times, when there
    /// are more than `otherFieldsLimit` other fields, or when a submessage in one of
    /// `nestedFields` has more than `otherFieldsLimit` fields.
    public static func check(
        _ body: UnsafeRawBufferPointer,
        repeatedFields: [UInt32] = [],
        limit: Int,
        messageName: String,
        nestedFields: [UInt32] = []
    ) throws {
        var index = 0
        var repeatedCount = 0
        var otherCount = 0
        func varint() throws -> UInt64 {
            try WireReader.varint(in: body, at: &index, messageName: messageName)
        }
        while index < body.count {
            let key = try varint()
            let field = UInt32(truncatingIfNeeded: key >> 3)
            if field == 0 { throw RPCError(code: .internal, message: "\(messageName): field number 0 at byte \(index)") }
            switch key & 7 {
            case 0: _ = try varint()
            case 1: index += 8
            case 5: index += 4
            case 2:
                let length = try varint()
                guard length <= UInt64(body.count - index) else {
                    throw RPCError(code: .internal, message: "\(messageName): field \(field) claims \(length) bytes, \(body.count - index) remain")
                }
                if nestedFields.contains(field) {
                    try check(
                        UnsafeRawBufferPointer(rebasing: body[index..<(index + Int(length))]),
                        limit: 0,
                        messageName: "\(messageName) field \(field)"
                    )
                }
                index += Int(length)
            default:
                throw RPCError(code: .internal, message: "\(messageName): unsupported wire type \(key & 7) for field \(field)")
            }
            if index > body.count {
                throw RPCError(code: .internal, message: "\(messageName): field \(field) runs past the end of the body")
            }
            if repeatedFields.contains(field) {
                repeatedCount += 1
                if repeatedCount > limit {
                    throw RPCError(
                        code: .resourceExhausted,
                        message: "\(messageName): more than \(limit) repeated entries"
                    )
                }
            } else {
                otherCount += 1
                if otherCount > otherFieldsLimit {
                    throw RPCError(
                        code: .resourceExhausted,
                        message: "\(messageName): more than \(otherFieldsLimit) fields (unknown or repeated singular fields)"
                    )
                }
            }
        }
    }
}
