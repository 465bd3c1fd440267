import FoundationEssentials

/// Starts peer processes of the harness (`pipebus-bench _peer ...`) and reads their reports.
struct PeerLauncher: Sendable {
    let harnessPath: String
    let progress: ProgressLine

    /// How long a peer may run before it is killed as stuck.
    var timeout: Duration = .seconds(120)

    /// Starts a peer without waiting for it: the server side of a two-process measurement.
    ///
    /// `standardInput: .pipe` gives the peer a stdin that stays open until the caller closes
    /// it (a server peer serves until then). `wrapper` runs the peer under another program,
    /// e.g. `["/usr/bin/strace", "-c", "-f", "-o", FILE]`.
    func start<Role: PeerRole>(
        _ role: Role.Type,
        configuration: Role.Configuration,
        cpus: [Int],
        standardInput: ChildProcess.StandardInput = .null,
        wrapper: [String] = []
    ) throws -> ChildProcess {
        let json = String(decoding: try JSONEncoder().encode(configuration), as: UTF8.self)
        let cpuArguments = cpus.flatMap { ["--cpu", String($0)] }
        let command = wrapper + [harnessPath, "_peer", Role.name] + cpuArguments + ["--configuration", json]
        return try ChildProcess(
            executable: command[0],
            arguments: Array(command.dropFirst()),
            standardInput: standardInput
        )
    }

    /// Waits for a peer started by `start` and decodes its report, ticking the progress line.
    func report<Role: PeerRole>(of process: ChildProcess, as role: Role.Type) throws -> Role.Report {
        let output = try process.finish(timeout: timeout) { progress.tick(elapsed: $0) }
        progress.relay(output.standardError)
        do {
            return try JSONDecoder().decode(Role.Report.self, from: Data(output.standardOutput))
        } catch {
            throw BenchError("peer \(Role.name) printed no valid report: \(error)")
        }
    }

    /// Runs one peer to completion.
    func run<Role: PeerRole>(_ role: Role.Type, configuration: Role.Configuration, cpus: [Int]) throws -> Role.Report {
        try report(of: start(role, configuration: configuration, cpus: cpus), as: role)
    }
}
