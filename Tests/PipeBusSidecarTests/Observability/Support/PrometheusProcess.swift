import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A real Prometheus server (Debian's `prometheus`) on 127.0.0.1 scraping its targets every second
/// (and evaluating its rule files as often), with its config and TSDB in a temporary directory that
/// `stop()` removes.
final class PrometheusProcess {
    let port: Int
    private let process = Process()
    private let directory: URL
    private let log: FileHandle

    convenience init(binary: CommandLineTool, scraping targetPort: Int) throws {
        try self.init(binary: binary, scrapingAll: [targetPort])
    }

    init(binary: CommandLineTool, scrapingAll targetPorts: [Int], ruleFiles: [String] = []) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("pipebus-prom-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let config = """
            global:
              scrape_interval: 1s
              scrape_timeout: 1s
              evaluation_interval: 1s
            rule_files: [\(ruleFiles.map { "'\($0)'" }.joined(separator: ", "))]
            scrape_configs:
              - job_name: pipebus
                static_configs:
                  - targets: [\(targetPorts.map { "'127.0.0.1:\($0)'" }.joined(separator: ", "))]
            """
        let configURL = directory.appendingPathComponent("prometheus.yml")
        try config.write(to: configURL, atomically: true, encoding: .utf8)
        let logURL = directory.appendingPathComponent("prometheus.log")
        _ = FileManager.default.createFile(atPath: logURL.path, contents: nil)
        log = try FileHandle(forWritingTo: logURL)

        port = try LoopbackHTTPClient.freePort()
        process.executableURL = binary.url
        process.arguments = [
            "--config.file=\(configURL.path)",
            "--storage.tsdb.path=\(directory.appendingPathComponent("data").path)",
            "--web.listen-address=127.0.0.1:\(port)",
            "--log.level=warn",
        ]
        process.standardOutput = log
        process.standardError = log
        try process.run()
    }

    /// What Prometheus logged, for a failure message.
    var logText: String {
        (try? String(contentsOf: directory.appendingPathComponent("prometheus.log"), encoding: .utf8)) ?? ""
    }

    /// Runs an instant query; returns the result vector's samples (labels, value), or nil while
    /// Prometheus is not answering yet (or refuses the query).
    func query(_ promQL: String) -> [(labels: [String: String], value: String)]? {
        guard case .samples(let samples)? = evaluate(promQL) else { return nil }
        return samples
    }

    /// What an instant query gave: its samples, or the error Prometheus answered with (a query
    /// that does not parse is `400 bad_data`).
    enum QueryOutcome {
        case samples([(labels: [String: String], value: String)])
        case error(String)
    }

    /// Runs an instant query and keeps Prometheus' error text; nil while it is not answering.
    func evaluate(_ promQL: String) -> QueryOutcome? {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        guard let encoded = promQL.addingPercentEncoding(withAllowedCharacters: allowed),
            let response = try? LoopbackHTTPClient(port: port).request("GET", "/api/v1/query?query=\(encoded)"),
            let json = try? JSONSerialization.jsonObject(with: Data(response.body.utf8)) as? [String: Any]
        else { return nil }
        guard response.status == 200 else {
            return .error("HTTP \(response.status): \(json["errorType"] ?? "") \(json["error"] ?? response.body)")
        }
        guard let data = json["data"] as? [String: Any], let result = data["result"] as? [[String: Any]] else {
            return nil
        }
        return .samples(
            result.compactMap { entry in
                guard let labels = entry["metric"] as? [String: String], let value = entry["value"] as? [Any],
                    value.count == 2, let number = value[1] as? String
                else { return nil }
                return (labels, number)
            }
        )
    }

    /// Every rule Prometheus loaded (`/api/v1/rules`): its name, query, health (`ok`, `err`,
    /// `unknown` before the first evaluation) and last error.
    func rules() -> [(name: String, query: String, health: String, lastError: String)]? {
        guard let response = try? LoopbackHTTPClient(port: port).request("GET", "/api/v1/rules"),
            response.status == 200,
            let json = try? JSONSerialization.jsonObject(with: Data(response.body.utf8)) as? [String: Any],
            let data = json["data"] as? [String: Any],
            let groups = data["groups"] as? [[String: Any]]
        else { return nil }
        return groups.flatMap { group in
            ((group["rules"] as? [[String: Any]]) ?? []).map { rule in
                (
                    rule["name"] as? String ?? "", rule["query"] as? String ?? "", rule["health"] as? String ?? "",
                    rule["lastError"] as? String ?? ""
                )
            }
        }
    }

    /// SIGTERM, then SIGKILL after 5 s: a child started from a concurrency-pool thread inherits
    /// its blocked signal mask, and may never see the SIGTERM.
    func stop() {
        if process.isRunning {
            process.terminate()
            let deadline = Date().addingTimeInterval(5)
            while process.isRunning && Date() < deadline { usleep(50_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
        try? log.close()
        try? FileManager.default.removeItem(at: directory)
    }
}
