#if canImport(Glibc)
import Glibc
#endif

/// The package's executables that the tests run as separate processes, found where SwiftPM
/// built them: beside the test bundle (`.build/<config>/`).
public enum BuiltExecutable {
    /// The path of executable `name`; throws, naming the places looked at, when it is not built.
    public static func path(_ name: String) throws -> String {
        var candidates: [String] = []
        var directory = CommandLine.arguments.first ?? ""
        // The bundle may be `X.xctest` (a file on Linux) or a directory containing the binary.
        while !directory.isEmpty {
            directory = String(directory[..<(directory.lastIndex(of: "/") ?? directory.startIndex)])
            candidates.append(directory + "/" + name)
            if !directory.contains(".xctest") { break }
        }
        candidates.append(".build/debug/" + name)
        for candidate in candidates where access(candidate, X_OK) == 0 { return candidate }
        throw TestSupportError("\(name) is not built; looked at \(candidates)")
    }
}
