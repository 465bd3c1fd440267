import PipeBusCore
public import Foundation

/// A task's identifier, checked (`NameRule.taskID`) before it becomes a file name in the spool
/// (DESIGN §6): 1–128 bytes of `[A-Za-z0-9._-]`, not starting with `.`, without `..`.
public struct TaskID: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The longest id accepted, in bytes; `<id>_replay.json` still fits in a 255-byte file name.
    public static let maxLength = NameRule.taskID.maxLength

    /// The id as written in file names and in the task's `id` key.
    public let rawValue: String

    /// Validates `rawValue`; throws INVALID_ARGUMENT naming the problem.
    public init(_ rawValue: String) throws {
        if let problem = Self.problem(with: rawValue) {
            throw RPCError(code: .invalidArgument, message: "invalid task id \(NameRule.quoted(rawValue)): \(problem)")
        }
        self.rawValue = rawValue
    }

    private init(unchecked rawValue: String) {
        self.rawValue = rawValue
    }

    /// A fresh id, `task-<unix milliseconds>-<16 hex digits>`: sortable by submission time and
    /// unique without coordination between the sidecars that share a spool.
    public static func generate(now: Date = Date()) -> TaskID {
        let milliseconds = Int64((now.timeIntervalSince1970 * 1000).rounded(.down))
        let hex = String(UInt64.random(in: .min ... .max), radix: 16)
        return TaskID(unchecked: "task-\(milliseconds)-\(String(repeating: "0", count: 16 - hex.count))\(hex)")
    }

    /// The file name of this task in a state folder.
    public var fileName: String { RootLayout.taskFileName(id: rawValue) }

    /// The id of a spool file name `<id>.json`, or nil when the name is not one.
    public init?(fileName: String) {
        guard fileName.hasSuffix(".json") else { return nil }
        let stem = String(fileName.dropLast(5))
        guard NameRule.taskID.accepts(stem) else { return nil }
        self.rawValue = stem
    }

    public var description: String { rawValue }

    public static func < (lhs: TaskID, rhs: TaskID) -> Bool { lhs.rawValue < rhs.rawValue }

    /// Why `candidate` is not a valid id, or nil when it is.
    public static func problem(with candidate: String) -> String? {
        NameRule.taskID.problem(with: candidate)
    }
}
