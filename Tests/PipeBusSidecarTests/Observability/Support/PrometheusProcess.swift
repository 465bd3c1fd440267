import Foundation
import PipeBusTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// A real Prometheus server (Debian's `prometheus`) on 127.0.0.1 scraping its targets every second
/// (and evaluating its rule files as often), with its config and TSDB in a temporary directory that
/// `stop()` removes.
///
/// It listens on port 0: the port it got is read from the kernel (`LoopbackPort.listeningPorts`),
/// so no port is picked in advance that another program could take first.
final class PrometheusProcess {
    let port: Int
    private let process: ChildProcess
    private let directory: TemporaryDirectory

    convenience init(binary: CommandLineTool, scraping targetPort: Int) async throws {
        try await self.init(binary: binary, scrapingAll: [targetPort])
    }

    init(binary: CommandLineTool, scrapingAll targetPorts: [Int], ruleFiles: [String] = []) async throws {
        directory = try TemporaryDirectory(prefix: "pipebus-prom")
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
        let configPath = directory.file("prometheus.yml")
        try config.write(toFile: configPath, atomically: true, encoding: .utf8)
        let process = try ChildProcess(
            [
                binary.url.path,
                "--config.file=\(configPath)",
                "--storage.tsdb.path=\(directory.file("data"))",
                "--web.listen-address=127.0.0.1:0",
                "--log.level=warn",
            ],
            stderr: .stdout
        )
        self.process = process
        do {
            port = try await eventuallyValue("Prometheus to listen", timeout: .seconds(30)) { () -> Int? in
                if let exit = process.exited { throw TestSupportError("Prometheus exited (\(exit)): \(process.stdout)") }
                return LoopbackPort.listeningPorts(of: process.pid).first
            }
        } catch {
            process.stop()
            directory.remove()
            throw error
        }
    }

    /// What Prometheus logged, for a failure message.
    var logText: String { process.stdout }

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

    /// Stops Prometheus (SIGTERM, SIGKILL after 10 s) and removes its directory.
    func stop() async {
        await process.terminate(grace: .seconds(10))
        directory.remove()
    }
}
