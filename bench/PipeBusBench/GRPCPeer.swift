import FoundationEssentials
import Glibc

/// The gRPC peer users would pick instead of pipebus: Python grpcio serving a bytes echo over a
/// Unix domain socket (`bench/GRPCPeer/grpc_peer.py`), run from the venv that
/// `scripts/install-bench-deps.sh` creates.
///
/// Its server and client are two processes, each pinned (`sched_setaffinity`, before grpc
/// starts a thread) to the placement's CPUs; the client times each call itself.
struct GRPCPeer: Sendable {
    /// Why the peer can't run here, with what to do about it.
    struct Unavailable: Error, CustomStringConvertible {
        var description: String
    }

    /// The venv's Python, and the peer script.
    let python: String
    let script: String
    /// The grpcio version the venv holds.
    let grpcVersion: String
    let progress: ProgressLine

    /// The script from the repository, relative to which the default venv lives too.
    static let scriptPath = "bench/GRPCPeer/grpc_peer.py"
    static let installCommand = "scripts/install-bench-deps.sh"
    /// Overrides where the venv is (the install script honours it too).
    static let venvVariable = "PIPEBUS_BENCH_VENV"

    /// How long one client run may take before both peers are killed as stuck.
    private static let timeout = Duration.seconds(120)

    /// Finds the script and a venv that imports grpc, or throws `Unavailable` saying how to
    /// install it.
    static func locate(progress: ProgressLine) throws -> GRPCPeer {
        guard let root = try repositoryRoot() else {
            throw Unavailable(
                description: "cannot find \(scriptPath) above the harness executable or the current directory; "
                    + "run pipebus-bench from the repository"
            )
        }
        let venv =
            getenv(venvVariable).map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 }
            ?? root + "/.build/bench-venv"
        let python = venv + "/bin/python"
        guard access(python, X_OK) == 0 else {
            throw Unavailable(description: "no Python venv at \(venv): run \(installCommand) (a venv with grpcio)")
        }
        let script = root + "/" + scriptPath
        let check: ChildProcess.Output
        do {
            check = try ChildProcess(executable: python, arguments: [script, "check"]).finish(timeout: .seconds(60))
        } catch {
            throw Unavailable(description: "\(venv) cannot import grpc (\(error)): run \(installCommand)")
        }
        let version =
            String(decoding: check.standardOutput, as: UTF8.self).split(whereSeparator: \.isWhitespace)
            .first.map(String.init) ?? "?"
        return GRPCPeer(python: python, script: script, grpcVersion: version, progress: progress)
    }

    /// Serves echo in one process and calls it from another, in `placement`: `warmup`
    /// unmeasured then `count` measured calls at each size, in order.
    func measure(placement: Placement, sizes: [Int], warmup: Int, count: Int) throws -> GRPCMeasurement {
        let directory = try ScratchDirectory.make(prefix: "pipebus-bench-grpc")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let socket = directory + "/echo.sock"
        // sun_path holds 108 bytes with its terminating zero.
        guard socket.utf8.count < 108 else {
            throw BenchError("the socket path \(socket) is too long for a Unix socket: set TMPDIR to a shorter one")
        }
        let server = try ChildProcess(
            executable: python,
            arguments: [
                script, "server", "--socket", socket, "--cpu", String(placement.serverCPU), "--server", "sync",
            ],
            standardInput: .pipe
        )
        let output: ChildProcess.Output
        do {
            let client = try ChildProcess(
                executable: python,
                arguments: [
                    script, "client", "--socket", socket, "--cpu", String(placement.clientCPU),
                    "--sizes", sizes.map(String.init).joined(separator: ","),
                    "--warmup", String(warmup), "--count", String(count),
                ]
            )
            output = try client.finish(timeout: Self.timeout) { progress.tick(elapsed: $0) }
        } catch {
            // The server's own complaint (a bind failure, say) tells more than the client's.
            server.closeStandardInput()
            if let serverOutput = try? server.finish(timeout: .seconds(10)) {
                progress.relay(serverOutput.standardError)
            }
            throw error
        }
        progress.relay(output.standardError)
        server.closeStandardInput()
        progress.relay(try server.finish(timeout: .seconds(30)).standardError)
        do {
            let report = try JSONDecoder().decode(GRPCMeasurement.Report.self, from: Data(output.standardOutput))
            return GRPCMeasurement(placement: placement, report: report)
        } catch {
            throw BenchError("the gRPC peer printed no valid report: \(error)")
        }
    }

    /// The first directory holding `scriptPath`, going up from the harness executable (built
    /// under the repository's .build) and then from the current directory.
    private static func repositoryRoot() throws -> String? {
        let harness = try ExecutableLookup.harness()
        let harnessDirectory = harness.split(separator: "/", omittingEmptySubsequences: false).dropLast()
            .joined(separator: "/")
        let starts = [harnessDirectory, FileManager.default.currentDirectoryPath]
        for start in starts {
            var components = start.split(separator: "/").map(String.init)
            while true {
                let directory = "/" + components.joined(separator: "/")
                if access(directory + "/" + scriptPath, R_OK) == 0 { return directory }
                if components.isEmpty { break }
                components.removeLast()
            }
        }
        return nil
    }
}
