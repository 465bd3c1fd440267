"""A pipe worker's loop: lease tasks over the pipe, run a handler on each, finish it."""
import concurrent.futures
import json
import threading

from ._status import RPCError, StatusCode


def run_worker(client, handler, max_in_flight=1, stop=None, on_error=None):
    """Leases tasks from `client`'s sidecar and calls `handler(task)` with each task's JSON
    object (a dict), up to `max_in_flight` at once on threads. What the handler returns (a dict, or None) completes the task; an exception
    fails it with its text (and goes to `on_error(task, error)` if given). Reconnects with
    backoff when the sidecar restarts; returns once `stop` (a threading.Event) is set."""
    stop = stop or threading.Event()
    current = []  # the lease in progress, for the stopper to cancel

    def stopper():
        stop.wait()
        for lease in list(current):
            lease.cancel()

    threading.Thread(target=stopper, name="pipebus-worker-stop", daemon=True).start()
    def process(task):
        try:
            result = handler(json.loads(task.json or b"{}"))
        except Exception as error:  # the task failed: reported, and the loop goes on
            if on_error is not None:
                on_error(task, error)
            finish = dict(error=f"{type(error).__name__}: {error}")
        else:
            finish = dict(result=result if result is not None else {})
        try:
            client.finish(task.id, traceparent=task.traceparent, **finish)
        except RPCError:
            pass  # the lease is gone with the connection: the sidecar re-queues the task

    failures = 0
    # The lease sends at most max_in_flight unfinished tasks, so the pool never queues.
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, max_in_flight), thread_name_prefix="pipebus-task") as pool:
        while not stop.is_set():
            try:
                lease = client.lease(max_in_flight)
                current[:] = [lease]
                if stop.is_set():
                    lease.cancel()
                for task in lease:
                    failures = 0
                    pool.submit(process, task)
            except RPCError as error:
                if stop.is_set():
                    break
                if error.code not in (StatusCode.UNAVAILABLE, StatusCode.CANCELLED):
                    raise
                failures += 1
                stop.wait(client.channel._backoff.delay(failures))
