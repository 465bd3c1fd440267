#if canImport(Glibc)
import Glibc
public import PipeBusTasks
#endif
import SystemPackage

/// An entry of a state folder that is not a task file (or a second copy of one), moved to
/// `.quarantine/` by `recover()` or as soon as the sidecar sees it.
public struct HostileEntry: Hashable, Sendable, CustomStringConvertible {
    /// Why the entry is not a task.
    public enum Reason: Hashable, Sendable, CustomStringConvertible {
        case symlink
        /// A FIFO, a device, a socket or a directory: never opened.
        case notRegularFile(kind: String)
        case tooLarge(size: Int, limit: Int)
        case invalidJSON(String)
        /// Valid JSON, but an array, a string, … instead of an object.
        case notAnObject(String)
        /// Not `<TaskID>.json`.
        case invalidName
        /// A task file whose task is already in the other final folder (`resolveDuplicateOutcome`).
        case duplicateOutcome(keptIn: TaskState)

        public var description: String {
            switch self {
            case .symlink: "a symlink (never followed)"
            case .notRegularFile(let kind): "\(kind), not a regular file (never opened)"
            case .tooLarge(let size, let limit): "\(size) bytes, over the \(limit)-byte limit"
            case .invalidJSON(let detail): "not valid JSON: \(detail)"
            case .notAnObject(let type): "JSON \(type), not an object"
            case .invalidName: "not a valid <task id>.json name"
            case .duplicateOutcome(let kept): "a second outcome of a task already in \(kept)/"
            }
        }

        /// Whether the entry is a regular file whose bytes are not a task object: what a file
        /// being written in place looks like until its writer is done.
        var isContent: Bool {
            switch self {
            case .invalidJSON, .notAnObject: true
            default: false
            }
        }

        /// The reason an entry with this status is refused unread, or nil for a regular file.
        init?(nonRegular info: Stat) {
            switch info.type {
            case .regular: return nil
            case .symbolicLink: self = .symlink
            case .fifo: self = .notRegularFile(kind: "a FIFO")
            case .characterSpecial: self = .notRegularFile(kind: "a character device")
            case .blockSpecial: self = .notRegularFile(kind: "a block device")
            case .socket: self = .notRegularFile(kind: "a socket")
            case .directory: self = .notRegularFile(kind: "a directory")
            default: self = .notRegularFile(kind: "an unknown file type")
            }
        }
    }

    /// The entry's name, escaped for display.
    public var name: String
    /// The folder it was found in.
    public var state: TaskState
    public var reason: Reason
    /// Where it was moved, or nil if moving it failed (it is then left in place and logged).
    public var quarantinedPath: String?

    public var description: String { "\(state)/\(name): \(reason)" }
}
