import Glibc
import PipeBusCore
import Testing

// How "nothing is allocated for a hostile length" is measured.
//
// The decoder's buffer is private, so the test watches the process instead. `mallinfo2()` is not
// exposed by Swift's Glibc module (malloc.h is not in it), and its figures would be blurred by
// tests running in parallel anyway. Linux's `VmPeak` (/proc/self/status) is the high-water mark
// of the process's virtual size: an allocation of the declared size, whether kept, freed again
// before returning, or never touched, shows in it, because glibc maps any block above 32 MiB
// with its own mmap. The peak only rises past its old value, so an allocation of A bytes raises
// it by at least A minus the gap between the old peak and the current size; the check measures
// that gap and requires it to be small enough that the hostile allocation could not hide in it.
// The inputs declare the most a header can (4 GiB - 1), so that the tolerance can be a generous
// 1 GiB: what the rest of the test run does meanwhile (4 MiB frames, a 64-128 MiB malloc arena for
// each new thread) stays far below it. A decoder that did allocate and zero-fill the declared
// size would, in a debug build, also take minutes here; either way the test cannot pass.
private let tolerance = 1 << 30
private let hostileLength = UInt32.max
private let hostileAllocation = Int(hostileLength)

/// The process's virtual size now and at its peak, in bytes.
private struct VirtualSize {
    var current: Int
    var peak: Int

    static func now() throws -> VirtualSize {
        let status = try #require(readProcSelfStatus())
        func bytes(_ key: String) throws -> Int {
            // "VmPeak:\t  123456 kB"
            let line = try #require(status.split(separator: "\n").first { $0.hasPrefix(key + ":") })
            let fields = line.split { $0 == " " || $0 == "\t" }
            return try #require(Int(fields[1])) * 1024
        }
        return VirtualSize(current: try bytes("VmSize"), peak: try bytes("VmPeak"))
    }
}

private func readProcSelfStatus() -> String? {
    guard let file = fopen("/proc/self/status", "r") else { return nil }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while true {
        let count = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
        if count == 0 { break }
        bytes += chunk[..<count]
    }
    return String(decoding: bytes, as: UTF8.self)
}

/// Runs `body` and fails the test if it allocated `tolerance` bytes or more.
@discardableResult
private func expectNoLargeAllocation<R>(
    _ what: String,
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () throws -> R
) throws -> R {
    let before = try VirtualSize.now()
    let blindSpot = before.peak - before.current
    #expect(
        blindSpot + tolerance < hostileAllocation,
        "\(what): the old peak is \(blindSpot >> 20) MiB above the current size, too much to measure",
        sourceLocation: sourceLocation
    )
    let result = try body()
    let growth = try VirtualSize.now().peak - before.peak
    #expect(
        growth < tolerance,
        "\(what): peak virtual size grew by \(growth >> 20) MiB",
        sourceLocation: sourceLocation
    )
    return result
}

@Suite("Frame decoder: no allocation for hostile lengths")
struct FrameDecoderAllocationTests {
    /// One test, in this order, because the peak only ever rises: the yardstick's own 4 GiB
    /// allocation must come last or it would hide the others.
    @Test
    func hostileLengthsAllocateNothing() throws {
        let headerError = try expectNoLargeAllocation("0xFFFFFFFF header, then nothing") {
            var decoder = FrameDecoder()
            decoder.append(frameHeader(flags: 0, length: hostileLength))
            let error = expectRPCError { try decoder.nextFrame() }
            #expect(expectRPCError { try decoder.nextFrame() } == error)
            #expect(decoder.bufferedByteCount == FrameHeader.size)
            return error
        }
        #expect(headerError?.code == .resourceExhausted)
        #expect(headerError?.message == "frame of 4294967295 bytes exceeds the max frame size of 4194304 bytes")

        // A decoder that accepts such frames, told one is coming, waits for the bytes rather than
        // allocating for them.
        // (The largest limit a decoder takes is what LZ4 can decompress, ~1.97 GiB: more is clamped.)
        let pending = try expectNoLargeAllocation("largest-limit header within the limit") { () throws -> Frame? in
            var decoder = FrameDecoder(maxFrameSize: hostileAllocation)
            #expect(decoder.maxFrameSize == FrameHeader.largestMaxFrameSize)
            decoder.append(frameHeader(flags: 0, length: UInt32(FrameHeader.largestMaxFrameSize)) + [1, 2, 3])
            return try decoder.nextFrame()
        }
        #expect(pending == nil)

        // A real LZ4 block of 1 MiB of zeros (a few KiB) declaring 4 GiB - 1.
        var bomb = try compressedFrame(of: [UInt8](repeating: 0, count: 1 << 20))
        bomb.replaceSubrange(5..<9, with: bigEndianBytes(hostileLength))
        let bombError = try expectNoLargeAllocation("LZ4 block declaring 4 GiB - 1") {
            var decoder = FrameDecoder()
            decoder.append(bomb)
            return expectRPCError { try decoder.nextFrame() }
        }
        #expect(bombError?.code == .resourceExhausted)

        // The yardstick itself: an allocation of that size, untouched and freed at once, shows.
        let before = try VirtualSize.now()
        let pointer = UnsafeMutableRawPointer.allocate(byteCount: hostileAllocation, alignment: 16)
        pointer.deallocate()
        let growth = try VirtualSize.now().peak - before.peak
        #expect(growth >= hostileAllocation - (before.peak - before.current))
        #expect(growth >= tolerance)
    }
}
