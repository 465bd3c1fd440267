import Testing

@testable import PipeBusSidecar

/// The watcher's compact name sets answer as a `Set<String>` of the same names would, through
/// many merges of their pending changes.
@Suite("TaskNameSet")
struct TaskNameSetTests {
    @Test("inserts, removals and re-inserts answer and count as a Set<String> does, across merges")
    func matchesASetOfNames() {
        var model = Set((0..<3000).map { "seed-\($0).json" })
        var names = TaskNameSet(model)
        #expect(names.count == model.count)
        // Enough changes for dozens of merges (one per 1,024 changes at this size), with
        // removals of merged and of unmerged names, rewrites, and names removed then re-added.
        for step in 0..<60_000 {
            let name: String
            switch step % 5 {
            case 0, 1: name = "t-\(step).json"
            case 2: name = "t-\(step / 2).json"
            case 3: name = "seed-\(step % 3000).json"
            default: name = "t-\((step * 7) % (step + 1)).json"
            }
            if step % 3 == 0 {
                #expect(names.remove(name) == (model.remove(name) != nil), "remove \(name) at step \(step)")
            } else {
                #expect(names.insert(name) == model.insert(name).inserted, "insert \(name) at step \(step)")
            }
            if step % 997 == 0 {
                #expect(names.count == model.count, "count at step \(step)")
            }
        }
        #expect(names.count == model.count)
        for name in model { #expect(names.contains(name)) }
        #expect(!names.contains("never-there.json"))
    }

    @Test("a name listed twice at seeding counts once")
    func duplicatesAtSeed() {
        let names = TaskNameSet(["a.json", "b.json", "a.json"])
        #expect(names.count == 2)
    }
}
