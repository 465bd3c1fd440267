import Foundation
import PipeBusSidecar
import Testing

/// The sidecar's cap on glibc heaps (see `MallocArenas` for the soak that called for it).
@Suite("malloc arenas")
struct MallocArenasTests {
    @Test("one heap per CPU, at least 2 and at most 8")
    func limitFollowsTheCPUs() {
        #expect(MallocArenas.limit(environment: [:], processorCount: 1) == 2)
        #expect(MallocArenas.limit(environment: [:], processorCount: 2) == 2)
        #expect(MallocArenas.limit(environment: [:], processorCount: 6) == 6)
        #expect(MallocArenas.limit(environment: [:], processorCount: 64) == 8)
    }

    @Test("an operator's MALLOC_ARENA_MAX or glibc.malloc.arena_max tunable is left to win")
    func operatorSettingWins() {
        #expect(MallocArenas.limit(environment: ["MALLOC_ARENA_MAX": "16"], processorCount: 2) == nil)
        #expect(MallocArenas.limit(environment: ["GLIBC_TUNABLES": "glibc.malloc.tcache_count=0:glibc.malloc.arena_max=4"], processorCount: 2) == nil)
        // Other tunables are not a limit.
        #expect(MallocArenas.limit(environment: ["GLIBC_TUNABLES": "glibc.malloc.trim_threshold=1"], processorCount: 2) == 2)
    }

    @Test("glibc takes the limit")
    func glibcTakesTheLimit() {
        // The test process runs on glibc; 8 is what the tests' own threads would get anyway.
        #expect(MallocArenas.apply(8))
    }

    @Test("pipebus sidecar limits its heaps at start, unless MALLOC_ARENA_MAX is set")
    func sidecarAppliesIt() async throws {
        let root = try Integration.Root.make(worker: "marie")
        defer { root.remove() }
        var environment = ProcessInfo.processInfo.environment
        environment["MALLOC_ARENA_MAX"] = nil
        environment["GLIBC_TUNABLES"] = nil
        let expected = try #require(MallocArenas.limit(environment: environment, processorCount: ProcessInfo.processInfo.activeProcessorCount))

        let limited = try await Integration.SidecarProcess(root: root, extraArguments: ["--log-level", "debug"], environment: environment)
        await limited.killEverything()
        let lines = limited.logLines().filter { $0["msg"] as? String == "malloc heaps limited" }
        #expect(lines.count == 1 && lines.first?["arena_max"] as? String == "\(expected)", "\(lines)")

        environment["MALLOC_ARENA_MAX"] = "3"
        let unlimited = try await Integration.SidecarProcess(root: root, extraArguments: ["--log-level", "debug"], instance: "own", environment: environment)
        await unlimited.killEverything()
        #expect(!unlimited.logLines().isEmpty, "the log to look in is there")
        #expect(!unlimited.logLines().contains { ($0["msg"] as? String ?? "").contains("malloc heaps") })
    }
}
