import Foundation
import PipeBusTasks

/// How `pipebus diagnose` (and the incident report) show a diagnosis: text for a person, JSON for
/// scripts.
extension Diagnosis {
    /// What was checked, for the last line of the text.
    static let checked =
        "status and health, heartbeats, stuck and slow tasks, failure rates, queue depth, pipe errors and write P95, Claude errors and memory, host CPU/memory/IO, breakers"

    /// `CRITICAL marie …` blocks, most severe first, then a summary line.
    func render(_ evidence: DiagnosisEvidence) -> String {
        let sidecars = evidence.sidecars.count
        let workers = Set(evidence.sidecars.map(\.worker)).count
        var text = "pipebus diagnose — \(evidence.root) — \(workers) worker(s), \(sidecars) sidecar(s)\n\n"
        if findings.isEmpty {
            text += "No findings: nothing needs action.\n"
        }
        for finding in findings {
            let subject = finding.worker.map { worker in finding.instance.map { "\(worker)/\($0)" } ?? worker } ?? "host"
            text += "\(finding.severity.description.uppercased())  \(subject): \(finding.summary)\n"
            for line in finding.evidence { text += "    evidence: \(line)\n" }
            text += "    runbook:  \(finding.mitigation)\n"
            for command in finding.commands { text += "    run:      \(command)\n" }
            text += "\n"
        }
        let actionable = findings.count { $0.severity >= .warning }
        text += "\(actionable) finding(s) need action. Checked: \(Self.checked); tasks finished in the last \(DurationText.format(evidence.window))."
        return text
    }

    func jsonObject(_ evidence: DiagnosisEvidence) -> [String: Any] {
        [
            "root": evidence.root,
            "checked_at": Timestamp.iso8601(evidence.now),
            "needs_action": needsAction,
            "findings": findings.map(\.jsonObject),
            "sidecars": evidence.sidecars.map { $0.row.jsonObject(now: evidence.now) },
        ]
    }

    /// A "## Diagnosis" section for the incident report.
    func markdown() -> String {
        var text = "\n## Diagnosis (pipebus diagnose)\n\n"
        if findings.isEmpty { return text + "No findings.\n" }
        for finding in findings {
            let subject = finding.worker.map { worker in finding.instance.map { "\(worker)/\($0)" } ?? worker } ?? "host"
            text += "- **\(finding.severity)** \(subject): \(finding.summary)\n"
            for line in finding.evidence { text += "  - \(line)\n" }
            for command in finding.commands { text += "  - run: `\(command)`\n" }
        }
        return text
    }
}

extension Diagnosis.Finding {
    var jsonObject: [String: Any] {
        var object: [String: Any] = [
            "severity": severity.description,
            "kind": kind,
            "summary": summary,
            "evidence": evidence,
            "mitigation": mitigation,
            "commands": commands,
        ]
        if let worker { object["worker"] = worker }
        if let instance { object["instance"] = instance }
        return object
    }
}
