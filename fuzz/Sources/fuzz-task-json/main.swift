import FuzzSupport
@_spi(Fuzzing) import PipeBusSidecar

// The spool's task file reader: what the sidecar does with any bytes someone drops into a
// state folder (JSON parsing, the record's fields, a claim's attempt count, re-encoding).
//
// Input: byte 0 is the length of a file name taken from the bytes after it; the rest is the
// file. Invariants: no crash; a file that parses as a task re-encodes (checked in the hook).

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTaskJSON(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    var input = FuzzInput(data, count)
    let nameLength = min(Int(input.byte()) % 32, input.rest.count)
    let name = String(decoding: input.rest.prefix(nameLength), as: UTF8.self) + ".json"
    let file = Array(input.rest.dropFirst(nameLength))
    _ = TaskFileFuzzing.readTask(file, fileName: name)
    return 0
}
