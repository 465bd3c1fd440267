import Foundation
import PipeBusCore
import Logging

extension Sidecar {
    /// What the runbook's own snippets expect on a fresh root: `<root>/incidents/` (its
    /// incident heredoc writes into it) and `<root>/config/<worker>.json` with the defaults
    /// (its batch-size snippet `json.load`s it). Made at start when missing, never replacing
    /// anything; a failure is logged, not fatal: serving tasks does not depend on either.
    func prepareRunbookFiles() {
        let incidents = RootLayout(root: configuration.root).incidentsDirectory
        do {
            try FileManager.default.createDirectory(atPath: incidents, withIntermediateDirectories: true)
        } catch {
            logger.warning("cannot create the incidents folder", metadata: ["path": "\(incidents)", "error": "\(error)"])
        }
        do {
            if try config.createWithDefaults() {
                logger.info("wrote the worker config with its defaults", metadata: ["path": "\(config.path)"])
            }
        } catch {
            logger.warning("cannot write the default worker config", metadata: ["path": "\(config.path)", "error": "\(error)"])
        }
    }
}
