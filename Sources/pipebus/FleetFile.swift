import Foundation
import PipeBusCore

/// A fleet file (`--fleet FILE`): the sidecars of workers on other hosts, by worker, and the TLS
/// files to reach them with. Relative paths are relative to the file.
///
///     {"workers": {"marie": ["grpc://10.0.0.2:50051"], "joe": ["grpcs://b.example:50051", "grpcs://c.example:50051"]},
///      "tls": {"ca": "ca.pem", "cert": "client.pem", "key": "client.key"}}
struct FleetFile: Decodable {
    struct TLS: Decodable {
        var ca: String?
        var cert: String?
        var key: String?
    }

    var workers: [String: [String]]
    var tls: TLS?

    /// Reads and checks `path`: every worker name valid, every worker with at least one target.
    /// Each target is checked when a client is made for it.
    static func load(_ path: String) throws -> FleetFile {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CLIError("cannot read fleet file \(path): \(FileManager.default.fileExists(atPath: path) ? "not readable" : "no such file")")
        }
        var file: FleetFile
        do {
            file = try JSONDecoder().decode(FleetFile.self, from: data)
        } catch {
            throw CLIError("fleet file \(path) is not a fleet (expected {\"workers\": {\"NAME\": [\"grpc://HOST:PORT\", …]}, \"tls\": {…}}): \(Self.describe(error))", code: "invalid_argument")
        }
        guard !file.workers.isEmpty else { throw CLIError("fleet file \(path) lists no workers", code: "invalid_argument") }
        for (worker, targets) in file.workers {
            if let problem = NameRule.component.problem(with: worker) {
                throw CLIError("fleet file \(path): worker \"\(worker)\": \(problem)", code: "invalid_argument")
            }
            guard !targets.isEmpty else { throw CLIError("fleet file \(path): worker \(worker) has no targets", code: "invalid_argument") }
        }
        let directory = (path as NSString).deletingLastPathComponent
        func resolved(_ file: String?) -> String? {
            guard let file, !file.hasPrefix("/") else { return file }
            return directory.isEmpty ? file : "\(directory)/\(file)"
        }
        if let tls = file.tls {
            file.tls = TLS(ca: resolved(tls.ca), cert: resolved(tls.cert), key: resolved(tls.key))
        }
        return file
    }

    private static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): "no \"\(key.stringValue)\""
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context), DecodingError.dataCorrupted(let context):
            (context.codingPath.map(\.stringValue).joined(separator: ".").nilIfEmpty.map { "at \($0): " } ?? "") + context.debugDescription
        default: "\(error)"
        }
    }
}

private extension String {
    var nilIfEmpty: String? { isEmpty ? nil : self }
}
