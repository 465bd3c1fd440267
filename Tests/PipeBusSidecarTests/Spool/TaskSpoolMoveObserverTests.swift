import Foundation
import PipeBusCore
import PipeBusTasks
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
            // Frames on the stack at each call (return addresses, not the address of a local:
            // AddressSanitizer moves address-taken locals to a heap "fake stack").
            let depths = Mutex<[Int]>([])
            spool.observeMoves { _ in
                let depth = Thread.callStackReturnAddresses.count
                depths.withLock { $0.append(depth) }
            }
            for index in 0..<5_000 {
                spool.willMove(try TaskID("t-\(index)"), from: .pending, to: .active)
            }
            let seen = depths.withLock { $0 }
            #expect(seen.count == 5_000)
            // With the bug the last call ran ~10,000 thunk frames deeper than the first; a flat
            // call is at the same depth every time.
            // (Foundation counts at most 128 frames: the first call must be well below that for
            // growth to show.)
            #expect(seen.first! < 100, "the first call is already \(seen.first!) frames deep")
            #expect(seen.max()! == seen.first!, "the observer ran \(seen.max()! - seen.first!) frames deeper after 5,000 renames")
        }
    }
}
