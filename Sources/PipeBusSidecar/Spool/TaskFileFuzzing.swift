import PipeBusTasks

#if canImport(Glibc)
import Glibc
#endif
import SystemPackage

/// The spool's reading of a task file, from bytes rather than a file, for the fuzz targets in
/// `fuzz/` (they cannot reach the internal reader otherwise). Not for use by applications.
@_spi(Fuzzing)
public enum TaskFileFuzzing {
    /// Does with `bytes` what the sidecar does with a task file named `fileName`: validates the
    /// name, parses the object, builds its record, counts an attempt as a claim does and
    /// re-encodes it as every transition does. Returns false when the bytes are not a task.
    /// A task that parses must also re-encode: otherwise it could never leave its folder.
    public static func readTask(_ bytes: [UInt8], fileName: String) -> Bool {
        let id = TaskID(fileName: fileName) ?? TaskID.generate()
        guard var object = try? TaskFile.parseObject(bytes) else { return false }
        let record = TaskRecord(id: id, state: .pending, bytes: bytes, object: object, info: Stat(rawValue: stat()))
        _ = record.logMetadata
        TaskFile.countAttempt(in: &object)
        object[TaskFile.Key.error] = "fuzz"
        do {
            _ = try TaskFile.encode(object)
        } catch {
            fatalError("a task object that parsed does not re-encode: \(error)")
        }
        return true
    }
}
