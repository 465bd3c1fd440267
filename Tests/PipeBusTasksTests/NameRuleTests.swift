import PipeBusCore
import Testing

/// The one name check: workers, instances and connection ids (`component`), task ids (`taskID`).
/// Python's `valid_name` (clients/python/pipebus/_channel.py) applies `component`'s rule too.
@Suite struct NameRuleTests {
    static let hostile = [
        "", ".", "..", "../x", "a/b", "/etc", "a\\b", "a\0b", "\0", "a b", "a\nb", "a\tb", "-\u{7f}", "tâche",
        "x\u{202e}y", "a;rm -rf", "$(id)", "`id`", "a*", "?", "~root", "a:b", "名前",
    ]

    @Test(arguments: hostile + [".hidden", "a.b", "a..b", String(repeating: "a", count: 65)])
    func componentsRefuseHostileNames(_ name: String) {
        #expect(!NameRule.component.accepts(name))
        #expect(NameRule.component.problem(with: name) != nil)
        #expect(!ConnectRecord.isValidConnectionID(name))
    }

    @Test(arguments: hostile + [".hidden", "a..b", "ab..", String(repeating: "a", count: 129)])
    func taskIDsRefuseHostileNames(_ name: String) {
        #expect(!NameRule.taskID.accepts(name))
        #expect(NameRule.taskID.problem(with: name) != nil)
    }

    @Test(arguments: ["marie", "a", "A-b_9", "web-1", String(repeating: "z", count: 64)])
    func componentsAcceptPlainNames(_ name: String) {
        #expect(NameRule.component.accepts(name))
        #expect(NameRule.component.problem(with: name) == nil)
        #expect(NameRule.taskID.accepts(name))
    }

    @Test(arguments: ["task-1.retry", "x.y", "task-1_replay", String(repeating: "z", count: 128)])
    func taskIDsMayHoldDots(_ name: String) {
        #expect(NameRule.taskID.accepts(name))
        #expect(!NameRule.component.accepts(name) || !name.contains("."))
    }

    @Test func problemsNameWhatIsWrong() {
        #expect(NameRule.component.problem(with: "") == "it is empty")
        #expect(NameRule.component.problem(with: String(repeating: "a", count: 65)) == "it is 65 bytes long; the limit is 64")
        #expect(NameRule.component.problem(with: "a/b") == "it contains '/'")
        #expect(NameRule.component.problem(with: "a\0b") == "it contains a NUL byte")
        #expect(NameRule.component.problem(with: "a.b") == "it contains byte 0x2e; only A-Z a-z 0-9 _ - are allowed")
        #expect(NameRule.taskID.problem(with: "x..y") == "it contains '..'")
        #expect(NameRule.taskID.problem(with: ".x") == "it starts with '.'")
    }

    /// A rejected name goes into error messages and logs: it cannot forge a line or run on.
    @Test func quotingEscapesAndShortens() {
        #expect(NameRule.quoted("a\nb\"c") == #""a\u{a}b\"c""#)
        #expect(NameRule.quoted(String(repeating: "x", count: 100)) == "\"" + String(repeating: "x", count: 40) + "…\"")
        #expect(NameRule.escaped("a\u{1b}[31m", quoted: false) == "a\\u{1b}[31m")
    }
}
