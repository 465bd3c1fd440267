import Foundation
import PipeBusTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `pipebus … | head -1`: the reader closes the pipe after one line; the command must end as
/// `cat` does (killed by SIGPIPE, silently, or exit 0), never crash (it trapped in
/// FileHandle.write on EPIPE: SIGILL and a 96-line backtrace).
@Suite struct CutOffOutputTests {
    @Test(arguments: [["watch", "--worker", "marie"], ["watch", "--worker", "marie", "--json"], ["tasks", "--worker", "marie", "--json"]])
    func endsQuietlyWhenTheReaderLeaves(_ arguments: [String]) async throws {
        try await TestDeployment.with { deployment in
            try await deployment.startSidecar("marie", heartbeatInterval: 0.2)
            // Enough tasks that the JSON listing cannot fit in the pipe (shrunk to one page below).
            for index in 0..<40 {
                try await deployment.submit("marie", #"{"prompt": "\#(String(repeating: "x", count: 200))"}"#, id: "cut-\(index)")
            }
            let run = try HeadOne.run(arguments + ["--root", deployment.root])
            #expect(!run.firstLine.isEmpty, "\(run)")
            #expect(run.endedQuietly, "\(run)")
            #expect(run.stderr.isEmpty, "\(run)")
        }
    }
}

/// A `pipebus` process whose standard output is a pipe that the test reads one line from, then
/// closes, as `head -1` does; standard error goes to a file.
struct HeadOne: CustomStringConvertible {
    var firstLine: String
    /// The exit status, or nil when a signal ended it.
    var status: Int32?
    var signal: Int32?
    var stderr: String

    /// Exit 0, or SIGPIPE (what `cat` does); anything else (SIGILL from a trap) is a crash.
    var endedQuietly: Bool { status == 0 || signal == SIGPIPE }

    var description: String {
        "first line: \(firstLine.prefix(200))\nended: \(status.map { "exit \($0)" } ?? "signal \(signal ?? -1)")\n--- stderr\n\(stderr)"
    }

    static func run(_ arguments: [String]) throws -> HeadOne {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw TestFailure("pipe: errno \(errno)") }
        // One page of pipe buffer (F_SETPIPE_SZ, 1031 on Linux; Glibc does not export the name),
        // so that whatever is written after the first line meets the closed end.
        _ = fcntl(fds[1], 1031, 4096)
        let process: ChildProcess
        do {
            defer { close(fds[1]) }
            process = try ChildProcess([CLI.executable] + arguments, environment: CLI.environment, stdout: .descriptor(fds[1]))
        }
        var line: [UInt8] = []
        var byte: UInt8 = 0
        while read(fds[0], &byte, 1) == 1, byte != UInt8(ascii: "\n") { line.append(byte) }
        close(fds[0])
        // `watch` runs until its next write meets the closed pipe (a heartbeat, every 0.2 s).
        guard let exit = process.waitBlocking(timeout: .seconds(30)) else {
            process.stop()
            throw TestFailure("pipebus \(arguments) kept running after its reader left")
        }
        return HeadOne(firstLine: String(decoding: line, as: UTF8.self), status: exit.code, signal: exit.signal, stderr: process.stderr)
    }
}
