import ArgumentParser
import Foundation
import PipeBusClient
import PipeBusCore
import PipeBusSidecar
import PipeBusTasks

/// `pipebus submit`: a task from a file or standard input, acknowledged once durable.
struct SubmitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "submit",
        abstract: "Submit a task (a JSON object) to a worker; prints its id once it is durable.",
        discussion:
            "Reads FILE, or standard input when FILE is - or missing. The object is kept as given; the sidecar adds id, correlation_id, _trace_context, submitted_at and attempts."
    )

    @OptionGroup var options: ClientOptions

    @OptionGroup var remote: RemoteOptions

    @Option(help: "The worker.")
    var worker: WorkerName

    @Option(help: "The task id (default: generated, or the object's \"id\").")
    var id: String?

    @Option(help: "The correlation id (default: the object's, else generated).")
    var correlationID: String?

    @Argument(help: "A file holding the task's JSON object, or - for standard input.")
    var file: String?

    func run() async throws {
        let source = file ?? "-"
        let bytes = try Self.read(source)
        try Self.checkObject(bytes, source: source)
        let task: Pipebus_Tasks_V1_Task
        if let fleet = try remote.loadFleet(callTimeout: .seconds(5)) {
            task = try await Self.submit(bytes, id: id, correlationID: correlationID, worker: worker.name, over: fleet, fleetFile: remote.fleet ?? "")
        } else if let client = try remote.client(worker: worker.name, callTimeout: .seconds(5)) {
            defer { client.close() }
            do {
                task = try await client.submit(json: bytes, id: id, correlationID: correlationID)
            } catch {
                throw CLIError(error, worker: worker.name)
            }
        } else {
            task = try await options.deployment.withClient(worker) { client in
                try await client.submit(json: bytes, id: id, correlationID: correlationID)
            }
        }
        if options.json {
            Console.printJSON(task.jsonObject)
        } else {
            Console.out(task.id)
        }
    }

    /// Submits to one of the worker's targets in the fleet, starting at a random one (so that
    /// submits spread over them) and moving on past those that cannot be reached (UNAVAILABLE:
    /// the task was not sent, so it cannot land twice) or whose breaker is open.
    static func submit(_ bytes: [UInt8], id: String?, correlationID: String?, worker: String, over fleet: Fleet, fleetFile: String) async throws -> Pipebus_Tasks_V1_Task {
        let targets = fleet.instances(of: worker)
        guard !targets.isEmpty else { throw CLIError("no worker named \"\(worker)\" in the fleet file \(fleetFile)", code: "not_found") }
        let start = Int.random(in: 0..<targets.count)
        var failures: [String] = []
        for target in targets[start...] + targets[..<start] {
            let client = fleet.client(for: worker, instance: target)
            do {
                return try await client.submit(json: bytes, id: id, correlationID: correlationID)
            } catch let error as RPCError where error.code == .unavailable {
                failures.append("\(target): \(error.message)")
            } catch {
                throw CLIError(error, worker: worker)
            }
        }
        throw CLIError("no sidecar of worker \(worker) could be reached: \(failures.joined(separator: "; "))", code: "unavailable")
    }

    static func read(_ source: String) throws -> [UInt8] {
        if source == "-" {
            return Array(FileHandle.standardInput.readDataToEndOfFile())
        }
        guard let data = FileManager.default.contents(atPath: source) else {
            throw CLIError(
                "cannot read task file \(source): \(FileManager.default.fileExists(atPath: source) ? "not readable" : "no such file")"
            )
        }
        return Array(data)
    }

    /// A task must be a JSON object; say what is wrong before the sidecar is asked.
    static func checkObject(_ bytes: [UInt8], source: String) throws {
        let name = source == "-" ? "standard input" : "task file \(source)"
        let value: Any
        do {
            value = try JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])
        } catch {
            let detail =
                (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? error.localizedDescription
            throw CLIError("\(name) is not valid JSON: \(detail)")
        }
        guard value is [String: Any] else {
            throw CLIError("\(name): a task must be a JSON object, got \(JSONValueText.kind(of: value))", code: "invalid_argument")
        }
    }
}
