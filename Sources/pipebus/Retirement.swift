import Foundation
import PipeBusCore
import PipeBusTasks

/// An operator's word that a worker — or one instance of a worker scaled out — is gone for
/// good: `<root>/workers/<worker>/retired.json` (or `…/instances/<id>/retired.json`). While
/// it stays gone, `status` and `health --all` show it as RETIRED instead of failing on it
/// forever; a retired sidecar that answers is shown as it answers, with a note.
struct Retirement: Sendable {
    var retiredAt: Date
    var reason: String
    var by: String

    static func path(root: String, worker: String, instance: String? = nil) -> String {
        RootLayout(root: root).retirementPath(worker: worker, instance: instance)
    }

    /// The worker's retirement, or its instance's; nil when neither is retired. A marker that
    /// does not parse still retires (someone meant it); its fields are then unknown.
    static func find(root: String, worker: String, instance: String? = nil) -> Retirement? {
        // A fleet of remote sidecars has no root here: retirement is recorded on their hosts.
        guard !root.isEmpty else { return nil }
        let candidates = [path(root: root, worker: worker)] + (instance.map { [path(root: root, worker: worker, instance: $0)] } ?? [])
        for path in candidates {
            guard let data = FileManager.default.contents(atPath: path) else { continue }
            let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
            let date = (object["retired_at"] as? String).flatMap(Timestamp.date)
            return Retirement(
                retiredAt: date ?? Date(timeIntervalSince1970: 0),
                reason: object["reason"] as? String ?? "",
                by: object["by"] as? String ?? ""
            )
        }
        return nil
    }

    /// Writes the marker (a temp file renamed into place: a reader never sees half of it).
    func write(to path: String) throws {
        let object: [String: Any] = ["retired_at": Timestamp.iso8601(retiredAt), "reason": reason, "by": by]
        try Data((Console.jsonText(object) + "\n").utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    /// `retired 2026-12-03T02:14:00Z by ops: decommissioned`.
    var summary: String {
        var text = "retired"
        if retiredAt.timeIntervalSince1970 > 0 { text += " " + Timestamp.iso8601(retiredAt) }
        if !by.isEmpty { text += " by \(by)" }
        if !reason.isEmpty { text += ": \(reason)" }
        return text
    }

    var jsonObject: [String: Any] {
        ["retired_at": Timestamp.iso8601(retiredAt), "reason": reason, "by": by]
    }
}
