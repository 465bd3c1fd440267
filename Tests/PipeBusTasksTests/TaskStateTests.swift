import PipeBusTasks
import Testing

/// The folder names, spelled once, and the wire state's mapping to them.
@Suite struct TaskStateTests {
    @Test func folderNamesAreTheSpoolContract() {
        #expect(TaskState.allCases.map(\.folderName) == ["pending", "active", "completed", "failed"])
        #expect(Pipebus_Tasks_V1_TaskState.folders.map(\.description) == ["pending", "active", "completed", "failed"])
    }

    @Test(arguments: TaskState.allCases)
    func eachFolderMapsToTheWireAndBack(_ state: TaskState) {
        let wire = Pipebus_Tasks_V1_TaskState(state)
        #expect(TaskState(wire) == state)
        #expect(wire.description == state.folderName)
        #expect(Pipebus_Tasks_V1_TaskState(name: state.folderName) == wire)
        #expect(TaskState(folderName: state.folderName) == state)
    }

    @Test(arguments: ["", "unspecified", "Pending", "PENDING", "pending/", "done", "../failed"])
    func otherTextIsNoState(_ text: String) {
        #expect(TaskState(folderName: text) == nil)
        #expect(Pipebus_Tasks_V1_TaskState(name: text) == nil)
    }

    @Test func unspecifiedAndUnknownValuesHaveNoFolder() {
        #expect(TaskState(Pipebus_Tasks_V1_TaskState.unspecified) == nil)
        #expect(TaskState(Pipebus_Tasks_V1_TaskState(rawValue: 9)) == nil)
        #expect(Pipebus_Tasks_V1_TaskState.unspecified.description == "unspecified")
    }
}
