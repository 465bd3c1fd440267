import Foundation

/// The files under `deploy/` (alert rules, Grafana dashboards and provisioning) as the tests read
/// them.
enum DeployAssets {
    /// `deploy/` in this repository, from this file's path.
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("deploy").path

    static var alertRules: String { "\(directory)/prometheus/alerts.yml" }

    /// A Grafana dashboard's JSON: its template variables and each panel's queries.
    struct Dashboard {
        struct Variable {
            var name: String
            var query: String
            var multi: Bool
            var allValue: String?
        }

        struct Query {
            var panel: String
            var expr: String
        }

        var uid: String
        var datasourceUIDs: Set<String>
        var variables: [Variable]
        var queries: [Query]

        init(named name: String) throws {
            let path = "\(DeployAssets.directory)/grafana/dashboards/\(name).json"
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            guard let json = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                throw DeployAssetsError("\(path) is not a JSON object")
            }
            uid = json["uid"] as? String ?? ""
            let templating = (json["templating"] as? [String: Any])?["list"] as? [[String: Any]] ?? []
            variables = templating.map { variable in
                let query = (variable["query"] as? [String: Any])?["query"] as? String ?? variable["query"] as? String ?? ""
                return Variable(
                    name: variable["name"] as? String ?? "",
                    query: query,
                    multi: variable["multi"] as? Bool ?? false,
                    allValue: variable["allValue"] as? String
                )
            }
            var sources = Set<String>()
            var queries: [Query] = []
            for panel in json["panels"] as? [[String: Any]] ?? [] {
                let title = panel["title"] as? String ?? "?"
                if let uid = (panel["datasource"] as? [String: Any])?["uid"] as? String { sources.insert(uid) }
                for target in panel["targets"] as? [[String: Any]] ?? [] {
                    if let uid = (target["datasource"] as? [String: Any])?["uid"] as? String { sources.insert(uid) }
                    queries.append(Query(panel: title, expr: target["expr"] as? String ?? ""))
                }
            }
            for variable in templating {
                if let uid = (variable["datasource"] as? [String: Any])?["uid"] as? String { sources.insert(uid) }
            }
            datasourceUIDs = sources
            self.queries = queries
        }
    }

    /// The metric names a PromQL expression reads: identifiers outside label matchers, grouping
    /// lists, ranges and strings that are not function calls or keywords.
    static func metricNames(in promQL: String) -> Set<String> {
        var text = promQL
        for pattern in [
            #""[^"]*""#, #"\{[^}]*\}"#, #"\[[^\]]*\]"#,
            #"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)"#,
        ] {
            text = text.replacingOccurrences(of: pattern, with: " ", options: .regularExpression)
        }
        let keywords: Set<String> = ["and", "or", "unless", "bool", "offset", "inf", "nan", "by", "without"]
        guard let identifier = try? NSRegularExpression(pattern: #"[A-Za-z_:][A-Za-z0-9_:]*(\s*\()?"#) else { return [] }
        var names = Set<String>()
        let range = NSRange(text.startIndex..., in: text)
        for match in identifier.matches(in: text, range: range) {
            guard match.range(at: 1).location == NSNotFound, let whole = Range(match.range, in: text) else { continue }
            let name = String(text[whole])
            if !keywords.contains(name.lowercased()) { names.insert(name) }
        }
        return names
    }
}

struct DeployAssetsError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
