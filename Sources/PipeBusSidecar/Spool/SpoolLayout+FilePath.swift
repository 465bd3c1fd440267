import PipeBusTasks
import PipeBusSystem
import SystemPackage

/// The spool's paths as the bytes the kernel sees.
extension SpoolLayout {
    func directoryPath(_ state: TaskState) -> FilePath { FilePath(directory(for: state)) }

    func filePath(_ id: TaskID, _ state: TaskState) -> FilePath { FilePath(path(of: id, in: state)) }
}
