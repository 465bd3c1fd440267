import ArgumentParser
import Foundation
import PipeBusSidecar

/// `pipebus config`: shows or changes `<root>/config/<worker>.json`; the sidecar re-reads it.
struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Show a worker's config, or merge KEY=VALUE changes into it (e.g. batch_size=5).",
        discussion: """
            Shows every key in effect, the defaults marked. Keys pipebus reads: \
            \(WorkerConfig.keys.map { "\($0.name) (default \($0.defaultValue): \($0.summary))" }.joined(separator: "; ")). \
            Any other key is refused unless --allow-unknown is given (a key of the worker's own; \
            a typo would otherwise be stored silently). A VALUE is parsed as JSON when it is JSON \
            (5, true, null, [1,2], {"a":1}, "text"), else taken as a string. The change goes through \
            the worker's sidecar, which checks and writes it; when the sidecar is not reachable, \
            the config is shown from the file itself (and said so), and changes are refused.
            """
    )

    @OptionGroup var options: ClientOptions

    @Option(help: "The worker.")
    var worker: WorkerName

    @Flag(help: "Accept keys pipebus does not read (the worker's own).")
    var allowUnknown = false

    @Argument(help: "Changes, KEY=VALUE.")
    var changes: [String] = []

    func validate() throws {
        _ = try Self.object(from: changes, allowUnknown: allowUnknown)
    }

    func run() async throws {
        let update = try Self.object(from: changes, allowUnknown: allowUnknown)
        let deployment = options.deployment
        let path = WorkerConfig.path(root: deployment.root, worker: worker.name)
        var source = "sidecar"
        let bytes: [UInt8]?
        do {
            bytes = try await deployment.withClient(worker) { client in
                update.isEmpty
                    ? try await client.config()
                    : try await client.setConfig(Array(Console.jsonText(update, compact: true).utf8))
            }
        } catch let error as CLIError where error.isUnreachable {
            guard update.isEmpty else {
                throw CLIError(
                    "\(error.message); nothing changed (its sidecar checks and writes the config). To change it "
                        + "without the sidecar, edit \(path): a sidecar re-reads it when it changes and when it starts",
                    code: error.code
                )
            }
            Console.error("\(error.message)\nshowing \(path) as it is on disk: a sidecar applies it when it starts")
            source = "file"
            bytes = try Self.readFile(path)
        }
        let config = EffectiveConfig(bytes: bytes)
        if options.json {
            var object = config.jsonObject
            object["worker"] = worker.name
            object["path"] = path
            object["source"] = source
            if !update.isEmpty { object["updated"] = update.keys.sorted() }
            Console.printJSON(object)
            return
        }
        if !update.isEmpty {
            Console.error("updated \(update.keys.sorted().joined(separator: ", ")) of worker \(worker)")
        }
        if let problem = config.fileProblem { Console.error("warning: \(path): \(problem); the defaults apply") }
        if source == "file", bytes == nil { Console.error("\(path) does not exist: the defaults apply") }
        Console.out("config of worker \(worker) (\(path)):")
        Console.out(config.render())
    }

    /// The file's bytes, nil when there is none.
    static func readFile(_ path: String) throws -> [UInt8]? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let data = FileManager.default.contents(atPath: path) else { throw CLIError("cannot read \(path)") }
        return Array(data)
    }

    /// `KEY=VALUE` pairs as one JSON object; what is wrong with one is a usage error.
    static func object(from pairs: [String], allowUnknown: Bool = false) throws -> [String: Any] {
        var object: [String: Any] = [:]
        for pair in pairs {
            guard let equals = pair.firstIndex(of: "="), equals != pair.startIndex else {
                if pair.hasPrefix("=") { throw ValidationError("\"\(pair)\" has no key: write KEY=VALUE, e.g. batch_size=5") }
                throw ValidationError(
                    "\"\(pair)\" has no value: write \(pair)=VALUE, e.g. \(WorkerConfig.batchSize.name)=5 "
                        + "(without KEY=VALUE, config shows the config)"
                )
            }
            let key = String(pair[..<equals])
            let text = String(pair[pair.index(after: equals)...])
            let value = (try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])) ?? text
            if let known = WorkerConfig.key(named: key) {
                if let problem = known.problem(with: value) { throw ValidationError(problem) }
            } else if !allowUnknown {
                let guess = WorkerConfig.suggestion(for: key).map { " (did you mean \($0)?)" } ?? ""
                let known = WorkerConfig.keys.map(\.name).joined(separator: ", ")
                throw ValidationError(
                    "unknown config key \"\(key)\"\(guess): pipebus reads \(known). To store a key of the worker's own, add --allow-unknown"
                )
            }
            object[key] = value
        }
        return object
    }
}
