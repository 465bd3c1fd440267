import Foundation
import PipeBusTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Issue 14, defect 14: the alert rules and Grafana dashboards under `deploy/`, checked by promtool
/// and by a real Prometheus scraping real sidecars.
@Suite("Deploy: alert rules and dashboards", .serialized, .timeLimit(.minutes(5)))
struct DeployAssetsTests {
    static let dashboards = ["task-overview", "worker-details"]

    /// `promtool check rules` and the rules' unit tests (`alerts.test.yml`: each alert fires where
    /// it must and stays quiet for a healthy worker, a blip, a figure under its bound and the
    /// host-wide gauges of two sidecars).
    @Test
    func alertRulesPassPromtoolCheckAndTheirUnitTests() throws {
        guard let promtool = CommandLineTool.find("promtool") else {
            Issue.record(CommandLineTool.missingMessage("promtool"))
            return
        }
        let folder = "\(DeployAssets.directory)/prometheus"
        for arguments in [
            ["check", "rules", "\(folder)/alerts.yml"],
            ["test", "rules", "\(folder)/alerts.test.yml"],
            ["check", "config", "\(folder)/prometheus.yml"],
        ] {
            let result = try promtool.run(arguments, input: "")
            #expect(result.status == 0, "promtool \(arguments.joined(separator: " ")):\n\(result.output)")
        }
        let rules = try String(contentsOfFile: "\(folder)/alerts.yml", encoding: .utf8)
        for alert in [
            "TaskProcessingLatencyHigh", "PipebusHeartbeatStale", "PipebusWorkerNotServing", "TaskQueueGrowing",
            "PipeConnectionErrorsRising", "TasksStuckInActive",
        ] {
            #expect(rules.contains("- alert: \(alert)\n"), "alerts.yml has no \(alert)")
        }
    }

    /// The runbook's links (`/d/task-overview`, `/d/worker-details`) and the provisioning files
    /// that load them with the datasource their panels name.
    @Test
    func dashboardsHaveTheRunbookUIDsAndTheirProvisioning() throws {
        let datasources = try String(
            contentsOfFile: "\(DeployAssets.directory)/grafana/provisioning/datasources/prometheus.yml",
            encoding: .utf8
        )
        let providers = try String(
            contentsOfFile: "\(DeployAssets.directory)/grafana/provisioning/dashboards/pipebus.yml",
            encoding: .utf8
        )
        #expect(providers.contains("type: file"))
        for name in Self.dashboards {
            let dashboard = try DeployAssets.Dashboard(named: name)
            #expect(dashboard.uid == name)
            #expect(!dashboard.queries.isEmpty)
            #expect(dashboard.datasourceUIDs.count == 1, "\(name): datasources \(dashboard.datasourceUIDs)")
            for uid in dashboard.datasourceUIDs {
                #expect(datasources.contains("uid: \(uid)\n"), "\(name) names datasource \(uid), which is not provisioned")
            }
        }
    }

    /// Two real sidecars (a pipe worker processing, failing and sticking tasks; a spool worker with
    /// a backlog) scraped by a real Prometheus that also evaluates `alerts.yml`: every panel's
    /// query, with its template variables filled from live label values, parses and returns
    /// series; every rule evaluates cleanly and reads only metrics the sidecars export.
    @Test
    func everyPanelQueryAndRuleWorksOnLiveSidecars() async throws {
        guard let binary = CommandLineTool.find("prometheus") else {
            Issue.record(CommandLineTool.missingMessage("prometheus"))
            return
        }
        let marie = try Integration.Root.make(worker: "marie")
        defer { marie.remove() }
        let anga = Integration.Root(path: marie.path, worker: "anga")
        let worker = [Integration.executable, "worker", "--min-ms", "20", "--max-ms", "80"]
        var sidecars: [Integration.SidecarProcess] = []
        do {
            sidecars.append(
                try await Integration.SidecarProcess(root: marie, mode: "pipe", metrics: true, command: worker, instance: "m1")
            )
            // Its own instance name, so its own log file (where its metrics port is read from).
            sidecars.append(try await Integration.SidecarProcess(root: anga, metrics: true, instance: "a1"))
            try await feedAndCheck(binary, marie: marie, anga: anga, sidecars: sidecars)
        } catch {
            Issue.record("\(error)")
        }
        for sidecar in sidecars {
            sidecar.process.signal(SIGTERM)
            if await sidecar.process.wait(timeout: .seconds(30)) == nil { await sidecar.killEverything() }
        }
    }

    private func feedAndCheck(
        _ binary: CommandLineTool,
        marie: Integration.Root,
        anga: Integration.Root,
        sidecars: [Integration.SidecarProcess]
    ) async throws {
        var ports: [Int] = []
        for sidecar in sidecars { ports.append(try await sidecar.metricsPort()) }
        let prometheus = try await PrometheusProcess(binary: binary, scrapingAll: ports, ruleFiles: [DeployAssets.alertRules])

        // anga has no worker: its tasks wait (a queue). marie gets a stuck task, then a steady
        // stream of tasks, one in four failing, so that every rate() has something to show.
        let angaClient = try Integration.Client.connect(anga, instance: "a1")
        for index in 0..<3 { _ = try await angaClient.submit(#"{"n": \#(index)}"#) }
        angaClient.close()
        let marieClient = try Integration.Client.connect(marie, instance: "m1")
        _ = try await marieClient.submit(#"{"stuck": true}"#)
        let feeding = Task {
            var index = 0
            while !Task.isCancelled {
                _ = try? await marieClient.submit(index % 4 == 0 ? #"{"fail": true}"# : #"{"n": \#(index)}"#)
                index += 1
                try? await Task.sleep(for: .milliseconds(100))
            }
        }
        var failure: (any Error)?
        do {
            try await check(prometheus, sidecarPorts: ports)
        } catch {
            failure = DeployAssetsError("\(error)\nPrometheus log:\n\(prometheus.logText)")
        }
        feeding.cancel()
        await feeding.value
        marieClient.close()
        await prometheus.stop()
        if let failure { throw failure }
    }

    private func check(_ prometheus: PrometheusProcess, sidecarPorts: [Int]) async throws {
        // Enough scrapes of both targets for rate() over a minute, and the rules evaluated.
        try await eventually("5 scrapes of both sidecars", timeout: .seconds(90), every: .milliseconds(500)) {
            let counts = prometheus.query(#"count_over_time(up{job="pipebus"}[1m])"#) ?? []
            return counts.count == sidecarPorts.count && counts.allSatisfy { (Double($0.value) ?? 0) >= 5 }
        }
        if let down = prometheus.query(#"up{job="pipebus"} == 0"#), !down.isEmpty {
            throw DeployAssetsError("Prometheus cannot scrape \(down.map(\.labels))")
        }

        var exported = Set(["up"])
        for port in sidecarPorts {
            for line in try await LoopbackHTTPClient(port: port).scrapeMetrics().split(separator: "\n") where line.hasPrefix("# TYPE ") {
                let family = line.split(separator: " ")[2]
                exported.formUnion([String(family), "\(family)_bucket", "\(family)_sum", "\(family)_count"])
            }
        }

        for name in Self.dashboards {
            let dashboard = try DeployAssets.Dashboard(named: name)
            // A single worker is shown as marie, the one whose tasks move (anga's only wait).
            let values = try await variableValues(dashboard, prometheus, choosing: ["worker": "marie"])
            for query in dashboard.queries {
                let expr = Self.substitute(query.expr, values)
                let where_ = "\(name) / \"\(query.panel)\": \(expr)"
                let unknown = DeployAssets.metricNames(in: expr).subtracting(exported)
                #expect(unknown.isEmpty, "\(where_) reads metrics no sidecar exports: \(unknown.sorted())")
                let samples = try await eventuallyValue("series from \(where_)", timeout: .seconds(20), every: .milliseconds(500)) {
                    () -> [(labels: [String: String], value: String)]? in
                    switch prometheus.evaluate(expr) {
                    case .error(let message)?: throw DeployAssetsError("\(where_) is refused: \(message)")
                    case .samples(let samples)? where !samples.isEmpty: return samples
                    default: return nil
                    }
                }
                // Host-wide gauges are repeated by every sidecar of a host: one series per host.
                if expr.contains("system_") {
                    #expect(expr.contains("max by (host)"), "\(where_) must take max by (host)")
                    let hosts = samples.map { $0.labels["host"] ?? "" }
                    #expect(samples.allSatisfy { $0.labels.keys.sorted() == ["host"] }, "\(where_): \(samples.map(\.labels))")
                    #expect(Set(hosts).count == hosts.count, "\(where_): \(samples.map(\.labels))")
                }
            }
        }

        // Rules: evaluated by Prometheus without error, on names the sidecars export.
        let rules = try await eventuallyValue("every rule evaluated", timeout: .seconds(20), every: .milliseconds(500)) {
            () -> [(name: String, query: String, health: String, lastError: String)]? in
            guard let rules = prometheus.rules(), !rules.isEmpty, rules.allSatisfy({ $0.health != "unknown" }) else {
                return nil
            }
            return rules
        }
        #expect(rules.count >= 6)
        for rule in rules {
            #expect(rule.health == "ok", "rule \(rule.name): \(rule.health) \(rule.lastError)")
            let unknown = DeployAssets.metricNames(in: rule.query).subtracting(exported)
            #expect(unknown.isEmpty, "rule \(rule.name) reads metrics no sidecar exports: \(unknown.sorted())")
        }
    }

    /// Each template variable's values, as Grafana's `label_values(selector, label)` finds them,
    /// resolved in order (a variable's query may use the ones before it). A multi-value variable
    /// stands for all its values (its "All" value); a single one for the value `choosing` names,
    /// which must be among them.
    private func variableValues(
        _ dashboard: DeployAssets.Dashboard,
        _ prometheus: PrometheusProcess,
        choosing chosen: [String: String]
    ) async throws -> [String: String] {
        var values: [String: String] = [:]
        for variable in dashboard.variables {
            let query = Self.substitute(variable.query, values)
            guard query.hasPrefix("label_values("), query.hasSuffix(")"), let comma = query.lastIndex(of: ",") else {
                throw DeployAssetsError("\(dashboard.uid): variable \(variable.name) is not label_values(selector, label): \(query)")
            }
            let selector = String(query[query.index(query.startIndex, offsetBy: 13)..<comma])
            let label = query[query.index(after: comma)...].dropLast().trimmingCharacters(in: .whitespaces)
            let found = try await eventuallyValue("values of $\(variable.name) (\(query))", timeout: .seconds(20), every: .milliseconds(500)) {
                () -> [String]? in
                let samples = prometheus.query("count by (\(label)) (\(selector))") ?? []
                let found = samples.compactMap { $0.labels[label] }.sorted()
                return found.isEmpty ? nil : found
            }
            if variable.multi {
                values[variable.name] = variable.allValue ?? found.joined(separator: "|")
            } else {
                let value = chosen[variable.name] ?? found[0]
                guard found.contains(value) else {
                    throw DeployAssetsError("\(dashboard.uid): $\(variable.name) offers \(found), not \(value)")
                }
                values[variable.name] = value
            }
        }
        return values
    }

    /// Grafana's substitutions: `$__rate_interval` (a minute at a 1 s scrape interval) and the
    /// template variables, longest name first so that `$worker` cannot eat `$workers`.
    static func substitute(_ text: String, _ values: [String: String]) -> String {
        var result = text.replacingOccurrences(of: "$__rate_interval", with: "1m")
        for (name, value) in values.sorted(by: { $0.key.count > $1.key.count }) {
            result = result.replacingOccurrences(of: "${\(name)}", with: value)
            result = result.replacingOccurrences(of: "$\(name)", with: value)
        }
        return result
    }
}
