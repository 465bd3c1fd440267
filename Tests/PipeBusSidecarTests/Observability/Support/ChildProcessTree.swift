import Foundation

@testable import PipeBusSidecar

#if canImport(Glibc)
import Glibc
#endif

/// A `/bin/sh -c script` child and whatever it starts, ended with SIGKILL, tree and all.
///
/// SIGKILL rather than SIGTERM because a child that Foundation's `Process` starts from a
/// concurrency-pool thread inherits that thread's blocked signal mask (SIGTERM and SIGCHLD
/// included): a shell would neither see SIGTERM nor notice its own children exit.
struct ChildProcessTree {
    let shell: Process

    var rootPID: Int32 { shell.processIdentifier }

    init(_ script: String) throws {
        shell = Process()
        shell.executableURL = URL(fileURLWithPath: "/bin/sh")
        shell.arguments = ["-c", script]
        try shell.run()
    }

    /// Kills every descendant, then the shell, and reaps it.
    func kill() {
        let files = ProcFiles(root: "/proc")
        var buffer: [UInt8] = []
        var children: [Int32: [Int32]] = [:]
        for pid in files.processIDs() {
            guard let bytes = files.contents(of: "\(pid)/stat", into: &buffer), let stat = ProcParser.processStat(bytes)
            else {
                continue
            }
            children[stat.parentPID, default: []].append(pid)
        }
        var pending = children[rootPID] ?? []
        while let pid = pending.popLast() {
            pending += children[pid] ?? []
            Glibc.kill(pid, SIGKILL)
        }
        Glibc.kill(rootPID, SIGKILL)
        shell.waitUntilExit()
    }
}
