import PipeBusTasks

/// The spool's paths as the bytes the kernel sees.
extension SpoolLayout {
    func directoryPath(_ state: TaskState) -> SpoolPath { SpoolPath(directory(for: state)) }

    func filePath(_ id: TaskID, _ state: TaskState) -> SpoolPath { SpoolPath(path(of: id, in: state)) }
}
