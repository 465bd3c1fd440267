import FuzzSupport
import PipeBusCore

// The listener's path for the well-known connect FIFO: frames of at most 4096 bytes, each a
// ConnectRecord whose connection id must pass validation before it names a file.
//
// Invariants: no crash; a record that decodes round-trips; an id that passes validation is
// 1–64 characters of A-Z a-z 0-9 _ - (so it cannot climb out of the pipe directory).

private let allowed = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-".utf8)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConnectRecord(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let input = FuzzInput(data, count)
    var decoder = FrameDecoder(maxFrameSize: ConnectRecord.maxEncodedSize, initialCapacity: 0)
    decoder.append(input.rest)
    while true {
        guard let body = try? decoder.nextFrame()?.body else { break }
        body.withUnsafeBytes { checkRoundTrip(ConnectRecord.self, $0) }
        guard let record = try? ConnectRecord(serializedBytes: body) else { continue }
        if ConnectRecord.isValidConnectionID(record.connectionID) {
            let id = Array(record.connectionID.utf8)
            fuzzCheck((1...64).contains(id.count) && id.allSatisfy(allowed.contains), "accepted id \(id)")
        }
    }
    // Straight into the record decoder too, without the frame around it.
    checkRoundTrip(ConnectRecord.self, input.rest)
    return 0
}
