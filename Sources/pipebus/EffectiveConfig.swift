import Foundation
import PipeBusSidecar

/// A worker's config as it applies: the file's values, and the defaults of the keys pipebus
/// reads (`WorkerConfig`) where the file has none or a refused one — each marked as such.
struct EffectiveConfig {
    /// The file's object (the sidecar's copy, or the file as read); nil when there is none.
    var file: [String: Any]?
    /// Why the file could not be used, when it could not.
    var fileProblem: String?

    /// Parses the sidecar's answer or the file's bytes (nil: no file).
    init(bytes: [UInt8]?) {
        guard let bytes else { return }
        do {
            let value = try JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])
            guard let object = value as? [String: Any] else {
                fileProblem = "the config must be a JSON object, got \(JSONValueText.kind(of: value))"
                return
            }
            file = object
        } catch {
            fileProblem = "the config is not valid JSON"
        }
    }

    /// Every key in effect: the file's, and each key pipebus reads.
    var values: [String: Any] {
        var values = file ?? [:]
        for key in WorkerConfig.keys { values[key.name] = key.value(in: file ?? [:]) }
        return values
    }

    /// The keys whose value is the default because the file does not set it (or sets it wrong).
    var defaulted: [String] {
        WorkerConfig.keys.filter { key in file?[key.name].map { key.problem(with: $0) != nil } ?? true }.map(\.name)
    }

    /// Keys in the file that pipebus does not read (the worker's own, or a typo).
    var unknownKeys: [String] {
        (file ?? [:]).keys.filter { WorkerConfig.key(named: $0) == nil }.sorted()
    }

    /// One row per key: KEY, VALUE, NOTE (default or not, and what it does).
    var rows: [[String]] {
        let known = WorkerConfig.keys.map { key -> [String] in
            let value = key.value(in: file ?? [:])
            let note: String
            if let given = file?[key.name] {
                if let problem = key.problem(with: given) {
                    note = "default, in effect: the file's value is refused (\(problem))"
                } else {
                    note = value == key.defaultValue ? "default" : "default \(key.defaultValue)"
                }
            } else {
                note = "default (not set in the file)"
            }
            return [key.name, "\(value)", "\(note); \(key.summary)"]
        }
        let others = unknownKeys.map { name in
            [name, Console.jsonText(file?[name] ?? NSNull(), compact: true), "not read by pipebus (the worker's own)"]
        }
        return known + others
    }

    func render() -> String {
        TextTable.render(header: ["KEY", "VALUE", "NOTE"], rows: rows)
    }

    var jsonObject: [String: Any] {
        var object: [String: Any] = [
            "config": values,
            "defaults": Dictionary(uniqueKeysWithValues: WorkerConfig.keys.map { ($0.name, $0.defaultValue) }),
            "defaulted": defaulted,
            "unknown_keys": unknownKeys,
            "file": file ?? NSNull(),
        ]
        if let fileProblem { object["file_problem"] = fileProblem }
        return object
    }
}
