import Foundation
import PipeBusTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("TemporaryDirectory")
struct TemporaryDirectoryTests {
    @Test("private, and removed without following a symlink out of it")
    func privateAndRemovedWithoutFollowingSymlinks() throws {
        let outside = try TemporaryDirectory(prefix: "pipebus-outside")
        defer { outside.remove() }
        let precious = outside.file("precious")
        try Data("keep".utf8).write(to: URL(fileURLWithPath: precious))

        let directory = try TemporaryDirectory()
        var info = stat()
        #expect(stat(directory.path, &info) == 0 && info.st_mode & 0o777 == 0o700)
        #expect(symlink(outside.path, directory.file("link")) == 0)
        try FileManager.default.createDirectory(atPath: directory.file("a/b"), withIntermediateDirectories: true)
        directory.remove()
        #expect(access(directory.path, F_OK) != 0, "the directory is gone")
        #expect(FileManager.default.contents(atPath: precious) == Data("keep".utf8), "the symlink's target is untouched")
    }

    @Test("withTemporaryDirectory removes it when the body throws")
    func removedOnThrow() throws {
        struct Boom: Error {}
        var seen = ""
        #expect(throws: Boom.self) {
            try withTemporaryDirectory { path in
                seen = path
                throw Boom()
            }
        }
        #expect(!seen.isEmpty && access(seen, F_OK) != 0)
    }
}
