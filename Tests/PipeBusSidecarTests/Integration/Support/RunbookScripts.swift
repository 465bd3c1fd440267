import Foundation

extension Integration {
    /// The Python snippets of `runbook/slow-task-processing.md`, copied as they are. The only
    /// changes: `/shared` is `{ROOT}` (the test root, from `sys.argv[1]`), `import time` is
    /// added (the runbook uses `time` without importing it), and each script ends with a call
    /// of the function the runbook defines. The header and footer are marked as such.
    ///
    /// "Check Worker Health" imports `observability.instrumentation.metrics.MetricsAggregator`,
    /// which it never uses and which is not part of pipebus: `install` puts an empty stand-in
    /// module on `PYTHONPATH` so that the snippet runs unchanged.
    enum RunbookScripts {
        static let header = """
            # --- test header (not from the runbook) ---
            import sys
            import time  # the runbook's snippets use time without importing it
            ROOT = sys.argv[1]
            # --- end of test header ---

            """

        /// "Detailed Investigation / 3. Check Worker Health", verbatim but for `{ROOT}`.
        static let checkWorkerHealth = header + #"""
            from observability.instrumentation.metrics import MetricsAggregator
            from pathlib import Path
            import json

            # Check worker watcher status
            def check_worker_health(worker_name):
                # Check heartbeat
                heartbeat_file = Path(f"{ROOT}/workers/{worker_name}/heartbeat.json")
                if heartbeat_file.exists():
                    with open(heartbeat_file) as f:
                        heartbeat = json.load(f)
                        print(f"Last heartbeat: {heartbeat['timestamp']}")

                # Check active tasks
                active_dir = Path(f"{ROOT}/tasks/{worker_name}/active")
                active_tasks = list(active_dir.glob("*.json"))
                print(f"Active tasks: {len(active_tasks)}")

                # Check oldest task
                if active_tasks:
                    oldest = min(active_tasks, key=lambda p: p.stat().st_mtime)
                    age = time.time() - oldest.stat().st_mtime
                    print(f"Oldest task: {oldest.name}, Age: {age}s")

            # Check each worker
            for worker in ["marie", "anga", "fabien"]:
                print(f"\n=== Worker: {worker} ===")
                check_worker_health(worker)

            """#

        /// "Detailed Investigation / 3. Task Replay", verbatim but for `{ROOT}`; the footer calls it
        /// with `sys.argv[2]` (task id) and `sys.argv[3]` (worker).
        static let replaySlowTask = header + #"""
            from pathlib import Path
            import json
            import shutil

            def replay_slow_task(task_id, worker_name):
                """Replay a slow task for debugging"""

                # Find task file
                task_file = Path(f"{ROOT}/tasks/{worker_name}/failed/{task_id}.json")
                if not task_file.exists():
                    task_file = Path(f"{ROOT}/tasks/{worker_name}/completed/{task_id}.json")

                if not task_file.exists():
                    print(f"Task {task_id} not found")
                    return

                # Load task data
                with open(task_file) as f:
                    task_data = json.load(f)

                # Remove trace context for fresh replay
                if '_trace_context' in task_data:
                    del task_data['_trace_context']

                # Add debug flag
                task_data['debug'] = True
                task_data['replay'] = True

                # Write to pending queue
                replay_file = Path(f"{ROOT}/tasks/{worker_name}/pending/{task_id}_replay.json")
                with open(replay_file, 'w') as f:
                    json.dump(task_data, f, indent=2)

                print(f"Task {task_id} queued for replay at {replay_file}")

            # --- test footer (not from the runbook) ---
            replay_slow_task(sys.argv[2], sys.argv[3])

            """#

        /// "Mitigation Actions / 1. Immediate Relief / Clear stuck tasks": the Python the runbook
        /// feeds to `python3 << EOF`, verbatim but for `{ROOT}` (it acts on worker "marie").
        static let clearStuckTasks = header + #"""
            from pathlib import Path
            import time

            worker = "marie"  # Change as needed
            active_dir = Path(f"{ROOT}/tasks/{worker}/active")

            for task_file in active_dir.glob("*.json"):
                age = time.time() - task_file.stat().st_mtime
                if age > 300:  # Stuck for more than 5 minutes
                    # Move to failed queue for investigation
                    failed_dir = Path(f"{ROOT}/tasks/{worker}/failed")
                    failed_dir.mkdir(exist_ok=True)
                    task_file.rename(failed_dir / task_file.name)
                    print(f"Moved stuck task: {task_file.name}")

            """#

        /// A test helper, not from the runbook: sets a file's mtime `seconds` into the past.
        static let ageFile = """
            import os, sys, time
            past = time.time() - float(sys.argv[2])
            os.utime(sys.argv[1], (past, past))

            """

        /// Writes the scripts and the stand-in module into `directory`.
        static func install(in directory: String) throws {
            let files = [
                "check_worker_health.py": checkWorkerHealth,
                "replay_slow_task.py": replaySlowTask,
                "clear_stuck_tasks.py": clearStuckTasks,
                "age_file.py": ageFile,
                "pylib/observability/__init__.py": "",
                "pylib/observability/instrumentation/__init__.py": "",
                "pylib/observability/instrumentation/metrics.py":
                    "# Stand-in for the runbook's unused import (not part of pipebus).\nclass MetricsAggregator:\n    pass\n",
            ]
            for (name, text) in files {
                let path = "\(directory)/\(name)"
                try FileManager.default.createDirectory(
                    atPath: (path as NSString).deletingLastPathComponent,
                    withIntermediateDirectories: true
                )
                try Data(text.utf8).write(to: URL(fileURLWithPath: path))
            }
        }

        /// Runs one of the installed scripts with `python3`; throws unless it exits 0.
        static func run(_ script: String, in directory: String, _ arguments: [String]) async throws -> String {
            var environment = ProcessInfo.processInfo.environment
            environment["PYTHONPATH"] = "\(directory)/pylib"
            environment["PYTHONDONTWRITEBYTECODE"] = "1"
            let (exit, output) = try await Integration.run(
                ["python3", "\(directory)/\(script)"] + arguments,
                environment: environment,
                timeout: .seconds(60)
            )
            guard exit.code == 0 else { throw Failure("python3 \(script) \(arguments) failed (\(exit)):\n\(output)") }
            return output
        }
    }
}
