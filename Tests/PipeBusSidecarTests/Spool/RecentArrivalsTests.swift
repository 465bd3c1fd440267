import Foundation
import PipeBusCore
import PipeBusTasks
import Testing

@testable import PipeBusSidecar

#if canImport(Glibc)
import Glibc
#endif

/// The latest arrivals answer a newest-first listing exactly, or say they cannot.
@Suite("RecentArrivals")
struct RecentArrivalsTests {
    private func at(_ second: Int) -> timespec { timespec(tv_sec: second, tv_nsec: 0) }
    private func ids(_ entries: [RecentArrivals.Entry]?) -> [String]? { entries?.map(\.id.rawValue) }

    @Test("newest first, each task at its latest arrival only, in the states asked for; a removal hides it")
    func latestArrivalOnly() throws {
        var recent = RecentArrivals(capacity: 100)
        recent.seed([])
        recent.record(try TaskID("a"), in: .pending, at: at(1))
        recent.record(try TaskID("b"), in: .pending, at: at(2))
        recent.record(try TaskID("a"), in: .active, at: at(3))
        recent.record(try TaskID("c"), in: .pending, at: at(4))
        recent.record(try TaskID("a"), in: .completed, at: at(5))
        recent.record(try TaskID("c"), in: nil, at: at(6))
        #expect(ids(recent.newestFirst(states: Set(TaskState.allCases), since: nil, limit: nil)) == ["a", "b"])
        #expect(ids(recent.newestFirst(states: [.pending], since: nil, limit: nil)) == ["b"])
        #expect(ids(recent.newestFirst(states: Set(TaskState.allCases), since: nil, limit: 1)) == ["a"])
        #expect(ids(recent.newestFirst(states: Set(TaskState.allCases), since: at(3), limit: nil)) == ["a"])
    }

    @Test("past its capacity it answers what lies after the horizon, and nil for what reaches before it")
    func horizon() throws {
        var recent = RecentArrivals(capacity: 4)
        recent.seed([])
        for second in 1...10 { recent.record(try TaskID("t\(second)"), in: .completed, at: at(second)) }
        let all = Set(TaskState.allCases)
        #expect(ids(recent.newestFirst(states: all, since: nil, limit: 3)) == ["t10", "t9", "t8"])
        #expect(ids(recent.newestFirst(states: all, since: at(8), limit: nil)) == ["t10", "t9", "t8"])
        #expect(recent.newestFirst(states: all, since: nil, limit: 5) == nil, "t6 was dropped: a listing must read the folders")
        #expect(recent.newestFirst(states: all, since: at(2), limit: nil) == nil)
        #expect(recent.newestFirst(states: all, since: nil, limit: nil) == nil)
    }

    @Test("a seed larger than the capacity keeps the newest, by time then id, and sets the horizon")
    func seed() throws {
        var recent = RecentArrivals(capacity: 3)
        let entries = try [("x", 5), ("b", 7), ("a", 7), ("old", 1), ("c", 6)].map {
            RecentArrivals.Entry(id: try TaskID($0.0), state: .completed, entered: at($0.1))
        }
        recent.seed(entries)
        let all = Set(TaskState.allCases)
        #expect(ids(recent.newestFirst(states: all, since: nil, limit: 3)) == ["b", "a", "c"])
        #expect(recent.newestFirst(states: all, since: nil, limit: 4) == nil)
        // A seed that fits answers every query.
        var whole = RecentArrivals(capacity: 10)
        whole.seed(entries)
        #expect(ids(whole.newestFirst(states: all, since: nil, limit: nil)) == ["b", "a", "c", "x", "old"])
    }
}
