import Foundation
import PipeBusTestSupport
import Testing

@testable import PipeBusSidecar

#if canImport(Glibc)
import Glibc
#endif

@Suite("Resource sampler")
struct ResourceSamplerTests {
    static let cpuCount = Double(ProcessInfo.processInfo.activeProcessorCount)

    /// Starts `/bin/sh -c script` in a process group of its own, and always kills the group (the
    /// shell and whatever it started) when `body` returns.
    func withShell<T>(_ script: String, _ body: (ChildProcess) throws -> T) throws -> T {
        let shell = try ChildProcess(["/bin/sh", "-c", script], stdout: .null, stderr: .null, newProcessGroup: true)
        defer { shell.stop() }
        return try body(shell)
    }

    static func now(_ clock: clockid_t) -> Double {
        var spec = timespec()
        clock_gettime(clock, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }

    /// Samples until `condition` holds, for at most 5 s: a child's own children take a moment to
    /// start, and there is no event to wait for.
    func sample(
        _ sampler: ResourceSampler,
        root: Int32,
        until condition: (ResourceSample) -> Bool
    ) -> ResourceSample {
        let deadline = Date().addingTimeInterval(5)
        var sample = sampler.sample(treeRootedAt: root)
        while !condition(sample) && Date() < deadline {
            usleep(50_000)
            sample = sampler.sample(treeRootedAt: root)
        }
        return sample
    }

    @Test
    func theTestProcessItself() {
        let sampler = ResourceSampler()
        let wallStart = Self.now(CLOCK_BOOTTIME)
        let cpuStart = Self.now(CLOCK_PROCESS_CPUTIME_ID)
        let first = sampler.sample(treeRootedAt: getpid())
        #expect(first.processCount >= 1)
        #expect((first.treeRSSBytes ?? 0) > 1_000_000)
        #expect(first.treeCPUPercent == nil, "no interval yet")
        // Burn 0.3 s of CPU (not of wall time: the machine may be busy), and compare with the
        // process's own CPU clock over the same interval. The tree may hold more than this
        // process (children of tests running in parallel), so that clock is a lower bound.
        var x: UInt64 = 1
        let deadline = Date().addingTimeInterval(20)
        while Self.now(CLOCK_PROCESS_CPUTIME_ID) - cpuStart < 0.3 && Date() < deadline {
            for i in 0..<10_000 { x = x &* 6_364_136_223_846_793_005 &+ UInt64(i) }
        }
        #expect(x != 0)
        let second = sampler.sample(treeRootedAt: getpid())
        let expected = (Self.now(CLOCK_PROCESS_CPUTIME_ID) - cpuStart) / (Self.now(CLOCK_BOOTTIME) - wallStart) * 100
        let cpu = second.treeCPUPercent ?? -1
        #expect(cpu >= 0 && cpu <= 100 * Self.cpuCount + 10, "tree CPU \(cpu)")
        #expect(cpu >= expected * 0.75 - 5, "tree CPU \(cpu), the process's own clock \(expected)")
        #expect(
            second.systemCPUPercent.map { $0 > 0 && $0 <= 100 } == true,
            "\(String(describing: second.systemCPUPercent))"
        )
        #expect((second.systemMemoryUsedBytes ?? 0) > 10_000_000)
        #expect(second.systemIOOperationsTotal != nil)
        #expect(second.treeIOOperations != nil, "we may read our own /proc/self/io")
    }

    @Test
    func aChildTreeOfSleeps() throws {
        try withShell("sleep 30 & sleep 30 & wait") { shell in
            let sampler = ResourceSampler()
            let sample = sample(sampler, root: shell.pid) { $0.processCount == 3 }
            #expect(sample.processCount == 3)
            #expect((sample.treeRSSBytes ?? 0) > 0)
            usleep(200_000)
            let idle = sampler.sample(treeRootedAt: shell.pid)
            #expect(idle.processCount == 3)
            #expect(
                idle.treeCPUPercent.map { $0 < 20 } == true,
                "sleeping tree uses CPU: \(String(describing: idle.treeCPUPercent))"
            )
        }
    }

    @Test
    func aBusyGrandchildIsCounted() throws {
        // The busy loop runs in a grandchild: only the tree walk finds it. The machine may be
        // loaded (parallel tests, builds), so the loop may get a small share of a CPU: poll for
        // up to 10 s until some CPU shows.
        try withShell("sh -c 'while :; do :; done' & wait") { shell in
            let sampler = ResourceSampler()
            _ = sample(sampler, root: shell.pid) { $0.processCount == 2 }
            let deadline = Date().addingTimeInterval(10)
            var busy = sampler.sample(treeRootedAt: shell.pid)
            while (busy.treeCPUPercent ?? 0) < 1 && Date() < deadline {
                usleep(300_000)
                busy = sampler.sample(treeRootedAt: shell.pid)
            }
            #expect(busy.processCount == 2)
            let cpu = busy.treeCPUPercent ?? 0
            #expect(cpu >= 1 && cpu <= 100 * Self.cpuCount + 10, "tree CPU \(cpu)")
        }
    }

    @Test
    func aVanishedRootIsAnEmptyTree() throws {
        let pid = try withShell("exit 0") { $0.pid }
        let sample = ResourceSampler().sample(treeRootedAt: pid)
        #expect(sample.processCount == 0)
        #expect(sample.treeRSSBytes == 0)
        let none = ResourceSampler().sample(treeRootedAt: nil)
        #expect(none.treeRSSBytes == nil && none.processCount == 0)
        #expect(none.systemMemoryUsedBytes != nil)
    }

    @Test
    func aSampleIsCheap() {
        let sampler = ResourceSampler()
        let clock = ContinuousClock()
        let elapsed = clock.measure {
            for _ in 0..<10 { _ = sampler.sample(treeRootedAt: getpid()) }
        }
        // About a millisecond each here; the bound only catches an accidental blow-up.
        #expect(elapsed < .milliseconds(500), "10 samples took \(elapsed)")
    }
}
