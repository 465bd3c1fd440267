import PipeBusCore
import Synchronization
import Testing

@testable import PipeBusSidecar

/// The move observer (how a scaled-out sidecar tells its own renames from others'). It was
/// stored as a bare closure in a `Mutex`, and every read through `withLock`'s inout access
/// wrapped it in two more reabstraction thunks: each rename made the next observer call one
/// level deeper, until the 30-minute soak's sidecar overflowed its stack after ~20,000 renames
/// (a SIGSEGV at 17 minutes, twice).
@Suite struct TaskSpoolMoveObserverTests {
    @Test("the observer is called at the same stack depth after thousands of renames")
    func observerDepthStaysFlat() throws {
        try withSpool { spool, _ in
            let depths = Mutex<[UInt]>([])
            spool.observeMoves { _ in
                var marker = 0
                let address = withUnsafeMutablePointer(to: &marker) { UInt(bitPattern: $0) }
                depths.withLock { $0.append(address) }
            }
            for index in 0..<5_000 {
                spool.willMove(try TaskID("t-\(index)"), from: .pending, to: .active)
            }
            let seen = depths.withLock { $0 }
            #expect(seen.count == 5_000)
            // With the bug the last call ran ~10,000 thunk frames deeper than the first (a
            // megabyte or more of stack); a flat call differs by nothing.
            let growth = Int(bitPattern: seen.first!) - Int(bitPattern: seen.min()!)
            #expect(growth < 4096, "the observer ran \(growth) bytes deeper after 5,000 renames")
        }
    }
}
