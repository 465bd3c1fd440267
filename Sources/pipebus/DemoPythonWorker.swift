import Foundation

/// The demo's Python pipe worker (`clients/python/examples/pipe_worker.py`, issue 15), so that a
/// newcomer sees a Python process leasing tasks over the pipe beside the built-in workers. Used
/// only when the checkout's example is found and a Python can run it (protobuf and lz4
/// importable); otherwise the demo keeps the built-in `pipebus worker`.
enum DemoPythonWorker {
    /// The worker that runs it.
    static let worker = "fabien"

    /// `[python, script]`, or nil when no Python here can run the example.
    static func command(executable: String, logPath: String) async -> [String]? {
        guard let script = script(near: executable) else { return nil }
        let repository = URL(fileURLWithPath: script).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().path
        var pythons = ["\(repository)/.build/test-venv/bin/python", "/usr/bin/python3", "/usr/local/bin/python3"]
        if let chosen = ProcessInfo.processInfo.environment["PIPEBUS_PYTHON"], !chosen.isEmpty { pythons.insert(chosen, at: 0) }
        for python in pythons where FileManager.default.isExecutableFile(atPath: python) {
            // `--check` imports the package and exits: a Python without protobuf or lz4 fails it.
            guard let probe = try? ChildProcess.spawn([python, script, "--check"], logPath: logPath) else { continue }
            if let exit = await probe.wait(timeout: .seconds(20)), exit.isSuccess { return [python, script] }
            probe.send(SIGKILL)
        }
        return nil
    }

    /// The example in the checkout this binary was built in (it lives under `.build/`), or in
    /// the current directory's.
    private static func script(near executable: String) -> String? {
        let relative = "clients/python/examples/pipe_worker.py"
        var directory = URL(fileURLWithPath: executable).resolvingSymlinksInPath().deletingLastPathComponent()
        var candidates = ["\(FileManager.default.currentDirectoryPath)/\(relative)"]
        for _ in 0..<5 {
            candidates.append("\(directory.path)/\(relative)")
            directory = directory.deletingLastPathComponent()
        }
        return candidates.first { FileManager.default.fileExists(atPath: $0) }
    }
}
