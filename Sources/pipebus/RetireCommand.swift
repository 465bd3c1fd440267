import ArgumentParser
import Foundation
import PipeBusCore
import PipeBusPipes
import PipeBusTasks

/// `pipebus retire`: takes a worker (or one instance of it) out of `status` and `health --all`
/// for good, so that they stop failing on a worker that is never coming back.
struct RetireCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retire",
        abstract: "Mark a worker (or one instance) as retired for good, or bring it back with --undo.",
        discussion: """
            Writes <root>/workers/<worker>/retired.json (with --instance, in that instance's folder). \
            While its sidecar is gone, `status` shows the worker as RETIRED and `health --all` \
            reports RETIRED; neither exits 1 because of it. A retired worker whose sidecar runs is \
            shown as it answers, with a note. The spool and the files stay as they are; tasks left \
            in pending/ or active/ are pointed out, since no one will process them.
            """
    )

    @OptionGroup var options: ClientOptions

    @Option(help: "The worker.")
    var worker: WorkerName

    @Option(help: "Retire one instance of a worker scaled out (e.g. after scaling down).")
    var instance: String?

    @Option(help: "Why, for whoever reads `status` next.")
    var reason = ""

    @Flag(help: "Bring the worker (or instance) back: remove the mark.")
    var undo = false

    func validate() throws {
        if let instance, let problem = NameRule.component.problem(with: instance) {
            throw ValidationError("--instance \(instance): \(problem)")
        }
    }

    func run() async throws {
        let deployment = options.deployment
        try deployment.requireWorker(worker.name)
        let paths = SidecarPaths(root: deployment.root, worker: worker.name)
        if let instance, !paths.instances().contains(instance) {
            let known = paths.instances()
            throw CLIError(
                "worker \(worker) has no instance \"\(instance)\" (instances: \(known.isEmpty ? "none" : known.joined(separator: ", ")))",
                code: "not_found"
            )
        }
        let path = Retirement.path(root: deployment.root, worker: worker.name, instance: instance)
        let subject = instance.map { "instance \($0) of worker \(worker)" } ?? "worker \(worker)"
        var warnings: [String] = []
        if undo {
            let existed = FileManager.default.fileExists(atPath: path)
            if existed {
                do { try FileManager.default.removeItem(atPath: path) } catch { throw CLIError("cannot remove \(path): \(error.localizedDescription)") }
            }
            report(json: ["retired": false, "path": path, "changed": existed], text: existed ? "\(subject) is back: status and health count it again" : "\(subject) was not retired; nothing changed")
            return
        }
        let retirement = Retirement(retiredAt: Date(), reason: reason, by: ProcessInfo.processInfo.environment["USER"] ?? "")
        do {
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try retirement.write(to: path)
        } catch {
            throw CLIError("cannot write \(path): \(error.localizedDescription)")
        }
        let serving = instance.map { paths.pipeDirectory(instance: $0).isServing ? [$0] : [] } ?? paths.servingInstances()
        if !serving.isEmpty {
            warnings.append("its sidecar is still running (instance \(serving.joined(separator: ", "))): status shows what it answers until it stops")
        }
        if instance == nil {
            let layout = RootLayout(root: deployment.root)
            let waiting = [TaskState.pending, .active].map { state in
                (state, Self.taskCount(in: layout.stateDirectory(worker: worker.name, folder: state.folderName)))
            }.filter { $0.1 > 0 }
            if !waiting.isEmpty {
                let counts = waiting.map { "\($0.1) \($0.0.folderName)" }.joined(separator: " and ")
                warnings.append("\(counts) task(s) remain in \(layout.spoolDirectory(worker: worker.name))/: no one will process them once it is gone")
            }
        }
        var object = retirement.jsonObject
        object["retired"] = true
        object["path"] = path
        object["warnings"] = warnings
        report(
            json: object,
            text: "\(subject) is retired: status and health --all show it as RETIRED and do not fail on it "
                + "(undo: pipebus retire --worker \(worker)\(instance.map { " --instance \($0)" } ?? "") --undo)",
            warnings: warnings
        )
    }

    private func report(json object: [String: Any], text: String, warnings: [String] = []) {
        if options.json {
            var object = object
            object["worker"] = worker.name
            if let instance { object["instance"] = instance }
            Console.printJSON(object)
            return
        }
        Console.out(text)
        for warning in warnings { Console.error("warning: \(warning)") }
    }

    /// Task files (`*.json`, not hidden) in a state folder.
    static func taskCount(in folder: String) -> Int {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { !$0.hasPrefix(".") && $0.hasSuffix(".json") }.count
    }
}
