import ArgumentParser
import Foundation

/// `pipebus config`: shows or changes `<root>/config/<worker>.json`; the sidecar re-reads it.
struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Show a worker's config, or merge KEY=VALUE changes into it (e.g. batch_size=5).",
        discussion:
            "A VALUE is parsed as JSON when it is JSON (5, true, null, [1,2], {\"a\":1}, \"text\"), else taken as a string."
    )

    @OptionGroup var options: ClientOptions

    @Option(help: "The worker.")
    var worker: WorkerName

    @Argument(help: "Changes, KEY=VALUE.")
    var changes: [String] = []

    func run() async throws {
        let update = try Self.object(from: changes)
        let json = try await options.deployment.withClient(worker) { client in
            update.isEmpty
                ? try await client.config()
                : try await client.setConfig(Array(Console.jsonText(update, compact: true).utf8))
        }
        let value = (try? JSONSerialization.jsonObject(with: Data(json))) ?? [String: Any]()
        if options.json {
            Console.printJSON(value)
        } else {
            if !update.isEmpty {
                Console.error("updated \(update.keys.sorted().joined(separator: ", ")) of worker \(worker)")
            }
            Console.out(Console.jsonText(value))
        }
    }

    /// `KEY=VALUE` pairs as one JSON object.
    static func object(from pairs: [String]) throws -> [String: Any] {
        var object: [String: Any] = [:]
        for pair in pairs {
            guard let equals = pair.firstIndex(of: "="), equals != pair.startIndex else {
                throw ValidationError("\"\(pair)\" is not KEY=VALUE")
            }
            let key = String(pair[..<equals])
            let text = String(pair[pair.index(after: equals)...])
            object[key] =
                (try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])) ?? text
        }
        return object
    }
}
