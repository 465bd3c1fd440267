import PipeBusCore
import PipeBusTasks
import Testing

@Suite("TaskID")
struct TaskIDTests {
    @Test(
        "accepts ids made of the allowed characters",
        arguments: [
            "task-123", "a", "A.b_c-9", "x.y", "task-1700000000000-0123456789abcdef",
            String(repeating: "z", count: 128),
        ]
    )
    func acceptsValid(_ candidate: String) throws {
        #expect(try TaskID(candidate).rawValue == candidate)
    }

    @Test(
        "rejects hostile ids with INVALID_ARGUMENT naming the problem",
        arguments: [
            ("../x", "'/'"), ("a/b", "'/'"), ("", "empty"), (".hidden", "starts with '.'"),
            (String(repeating: "a", count: 200), "200 bytes"), ("a\u{0}b", "NUL"), ("x..y", "'..'"), ("ab..", "'..'"),
            ("a b", "0x20"), ("tâche", "0xc3"), ("..", "starts with '.'"), ("a\nb", "0xa"),
        ]
    )
    func rejectsHostile(_ candidate: String, _ problem: String) {
        let error = expectRPCError(.invalidArgument) { _ = try TaskID(candidate) }
        #expect(error?.message.contains(problem) == true, "\(error?.message ?? "")")
    }

    @Test("an error message escapes the id it quotes")
    func errorEscapes() {
        let error = expectRPCError(.invalidArgument) { _ = try TaskID("a\nb") }
        #expect(error?.message.contains("\n") == false)
    }

    @Test("generated ids are valid and distinct")
    func generated() throws {
        let ids = (0..<1000).map { _ in TaskID.generate() }
        #expect(Set(ids).count == ids.count)
        for id in ids.prefix(10) {
            #expect(try TaskID(id.rawValue) == id)
            #expect(id.rawValue.hasPrefix("task-"))
        }
    }

    @Test("file names: only <id>.json, never temp or hidden names")
    func fileNames() throws {
        #expect(TaskID(fileName: "task-1.json")?.rawValue == "task-1")
        #expect(try TaskID("task-1").fileName == "task-1.json")
        #expect(TaskID(fileName: ".task-1.json") == nil)
        #expect(TaskID(fileName: ".task-1.json.tmp-12-ab") == nil)
        #expect(TaskID(fileName: "task-1.txt") == nil)
        #expect(TaskID(fileName: ".json") == nil)
        #expect(TaskID(fileName: "a b.json") == nil)
    }
}
