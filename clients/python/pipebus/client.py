"""The client of one worker's sidecar: typed calls for the health and task services, through a
circuit breaker, reconnecting after the sidecar restarts (the Swift SidecarClient's calls)."""
import json
import os
import time

from ._channel import Backoff, Channel, pipe_directories
from ._status import RPCError, StatusCode
from .breaker import CircuitBreaker
from .health.v1 import health_pb2
from .tasks.v1 import tasks_pb2

TASKS = "/pipebus.tasks.v1.Tasks/"
HEALTH = "/pipebus.health.v1.Health/"
ECHO = "/pipebus.testing.v1.Echo/"

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
PENDING, ACTIVE, COMPLETED, FAILED = (tasks_pb2.PENDING, tasks_pb2.ACTIVE, tasks_pb2.COMPLETED, tasks_pb2.FAILED)
_STATES = {"pending": PENDING, "active": ACTIVE, "completed": COMPLETED, "failed": FAILED}


def default_root():
    """`$PIPEBUS_ROOT`, else `/shared` (as the CLI)."""
    return os.environ.get("PIPEBUS_ROOT") or "/shared"


def connect(worker=None, root=None, instance=None, directory=None, timeout=5.0, breaker=None,
            connect_timeout=1.0, peer_name="pipebus-python"):
    """A client of `worker`'s sidecar under `root` (any serving instance, or `instance`), or of
    the server in the pipe `directory`. Connects lazily; use it as a context manager to close."""
    return Client(worker=worker, root=root, instance=instance, directory=directory, timeout=timeout,
                  breaker=breaker, connect_timeout=connect_timeout, peer_name=peer_name)


def _traceparent_metadata(metadata):
    """`metadata` plus the current OpenTelemetry span's `traceparent`/`tracestate`, when
    opentelemetry-api is importable and the caller gave no `traceparent` of their own."""
    metadata = dict(metadata or {})
    if "traceparent" in metadata:
        return metadata
    try:
        from opentelemetry import propagate
    except ImportError:
        return metadata
    carrier = {}
    propagate.inject(carrier)
    for key in ("traceparent", "tracestate"):
        if carrier.get(key):
            metadata[key] = carrier[key]
    return metadata


def _task_bytes(task):
    """A task as the JSON bytes the sidecar stores: a dict is encoded; bytes and str go as given
    (the sidecar checks they are one JSON object)."""
    if isinstance(task, dict):
        return json.dumps(task, separators=(",", ":")).encode()
    if isinstance(task, str):
        try:
            return task.encode()
        except UnicodeEncodeError as error:
            raise RPCError(StatusCode.INVALID_ARGUMENT, f"the task is not valid UTF-8 text: {error}") from None
    if isinstance(task, (bytes, bytearray, memoryview)):
        return bytes(task)
    raise RPCError(StatusCode.INVALID_ARGUMENT, f"a task must be a JSON object (a dict), not {type(task).__name__}")


def _milliseconds(seconds):
    return 0 if seconds is None else max(0, int(seconds * 1000))


class Client:
    """Typed calls to one worker's sidecar. Thread-safe; every unary call goes through `breaker`
    and gets `timeout` seconds unless it gives its own."""

    def __init__(self, worker=None, root=None, instance=None, directory=None, timeout=5.0, breaker=None,
                 connect_timeout=1.0, peer_name="pipebus-python", backoff=None):
        if directory is None:
            if not worker:
                raise ValueError("give a worker (and root), or a pipe directory")
            root = root or default_root()
            directories = pipe_directories(root, worker, instance)
        else:
            directories = directory
        self.worker = worker
        self.root = root
        self.instance = instance
        self.timeout = timeout
        self.breaker = breaker if breaker is not None else CircuitBreaker(worker or directory)
        self.channel = Channel(directories, connect_timeout=connect_timeout, backoff=backoff or Backoff(),
                               peer_name=peer_name)

    def close(self):
        self.channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # Plumbing

    def call(self, method, request, response_type, metadata=None, timeout=None):
        """A unary call through the breaker: `request` a protobuf message (or bytes), the reply
        parsed as `response_type` (None: bytes)."""
        serialize = None if isinstance(request, (bytes, bytearray)) else _serialize
        callable_ = self.channel.unary_unary(method, serialize, response_type.FromString if response_type else None)
        return self.breaker.call(lambda: self._unavailable_named(
            lambda: callable_(request, timeout=self.timeout if timeout is None else timeout, metadata=metadata)))

    def _unavailable_named(self, function):
        try:
            return function()
        except RPCError as error:
            if error.code == StatusCode.UNAVAILABLE and self.worker and "not reachable" not in error.message:
                raise RPCError(StatusCode.UNAVAILABLE, f"sidecar of worker {self.worker} is not reachable: {error.message}") from None
            raise

    def stream(self, method, request, response_type, metadata=None, timeout=None):
        """A server-streaming call: an iterator of `response_type` (not through the breaker)."""
        return self._unavailable_named(lambda: self.channel.unary_stream(method, _serialize, response_type.FromString)(
            request, timeout=timeout, metadata=metadata))

    def ping(self, timeout=None):
        """Seconds for one PING/PONG round trip."""
        return self.channel.ping(timeout)

    # Health (grpc.health.v1 semantics)

    def health(self, service="", timeout=None):
        """Check: a HealthCheckResponse (`.status` SERVING or NOT_SERVING, `.message` why)."""
        return self.call(HEALTH + "Check", health_pb2.HealthCheckRequest(service=service), health_pb2.HealthCheckResponse,
                         timeout=timeout)

    def is_serving(self, service="", timeout=None):
        """Whether the sidecar answers SERVING (False when it does not answer at all)."""
        try:
            return self.health(service, timeout).status == SERVING
        except RPCError:
            return False

    def watch_health(self, service="", timeout=None):
        """Watch: the current status at once, then each change (an iterator; cancel() to stop)."""
        return self.stream(HEALTH + "Watch", health_pb2.HealthCheckRequest(service=service), health_pb2.HealthCheckResponse,
                           timeout=timeout)

    def list_services(self, timeout=None):
        return list(self.call(HEALTH + "ListServices", health_pb2.ListServicesRequest(), health_pb2.ListServicesResponse,
                              timeout=timeout).services)

    # Tasks

    def submit(self, task, id=None, correlation_id=None, metadata=None, timeout=None):
        """Submits a task (a dict, or the JSON object as bytes/str); returns its id once the task
        is durably in pending/. The current OpenTelemetry span's `traceparent` goes with it."""
        request = tasks_pb2.SubmitRequest(json=_task_bytes(task))
        try:
            if id:
                request.id = id
            if correlation_id:
                request.correlation_id = correlation_id
        except (ValueError, TypeError) as error:
            raise RPCError(StatusCode.INVALID_ARGUMENT, f"the task id or correlation id is not valid text: {error}") from None
        return self.call(TASKS + "Submit", request, tasks_pb2.Task, _traceparent_metadata(metadata), timeout).id

    def get(self, id, timeout=None):
        """One task (a tasks_pb2.Task; its `.json` is the task file)."""
        return self.call(TASKS + "Get", tasks_pb2.TaskRef(id=id), tasks_pb2.Task, timeout=timeout)

    def tasks(self, state=None, older_than=None, limit=1000, timeout=None):
        """Tasks in `state` ("pending", "active", ... or a TaskState; None: all) at least
        `older_than` seconds old."""
        if isinstance(state, str):
            state = _STATES[state]
        request = tasks_pb2.ListRequest(state=state or 0, older_than_ms=_milliseconds(older_than), limit=limit)
        return list(self.call(TASKS + "List", request, tasks_pb2.TaskList, timeout=timeout).tasks)

    def cancel(self, id, reason="", timeout=None):
        return self.call(TASKS + "Cancel", tasks_pb2.TaskRef(id=id, reason=reason), tasks_pb2.Task, timeout=timeout)

    def replay(self, id, timeout=None):
        """The runbook's replay: re-queues a failed or completed task as `<id>_replay`."""
        return self.call(TASKS + "Replay", tasks_pb2.TaskRef(id=id), tasks_pb2.Task, timeout=timeout)

    def clear_stuck(self, older_than, reason="", dry_run=False, timeout=None):
        """Active tasks in active/ for more than `older_than` seconds (time in state, not since
        submission) move to failed/; the tasks moved, or with `dry_run` those that would move."""
        request = tasks_pb2.ClearStuckRequest(older_than_ms=_milliseconds(older_than), reason=reason, dry_run=dry_run)
        return list(self.call(TASKS + "ClearStuck", request, tasks_pb2.TaskList, timeout=timeout).tasks)

    def config(self, timeout=None):
        """The worker config (a dict)."""
        return json.loads(self.call(TASKS + "GetConfig", tasks_pb2.Empty(), tasks_pb2.ConfigMessage, timeout=timeout).json)

    def set_config(self, changes=None, timeout=None, **keys):
        """Merges `changes` (and keyword keys) into the worker config; the whole config."""
        merged = dict(changes or {}, **keys)
        reply = self.call(TASKS + "SetConfig", tasks_pb2.ConfigMessage(json=json.dumps(merged).encode()),
                          tasks_pb2.ConfigMessage, timeout=timeout)
        return json.loads(reply.json)

    def status(self, timeout=None):
        """The worker's status now (a tasks_pb2.WorkerStatus, what heartbeats carry)."""
        return self.call(TASKS + "Status", tasks_pb2.Empty(), tasks_pb2.WorkerStatus, timeout=timeout)

    def events(self, after_seq=0, resume=True):
        """Heartbeats and transitions with `seq` > `after_seq` (0: from now on), as an endless
        iterator. With `resume`, a lost connection (the sidecar restarting) is reconnected with
        backoff and the stream picks up after the last event seen."""
        return EventIterator(self, after_seq, resume)

    # Pipe workers

    def lease(self, max_in_flight=1):
        """A pipe worker's lease: an iterator of tasks_pb2.Task, at most `max_in_flight`
        unfinished at a time; finish each with `finish`. Cancelling it (or losing the connection)
        puts unfinished tasks back in pending/."""
        return self.stream(TASKS + "Lease", tasks_pb2.LeaseRequest(max_in_flight=max(1, max_in_flight)), tasks_pb2.Task)

    def finish(self, id, result=None, error=None, retry=False, traceparent=None, timeout=None):
        """Completes a leased task with `result` (a dict or JSON bytes), or fails it with `error`
        (`retry` puts it back in pending/). `traceparent`: the task's, so the call joins its trace."""
        request = tasks_pb2.FinishRequest(id=id, failed=error is not None, error=error or "", retry=retry)
        if result is not None:
            request.result_json = _task_bytes(result)
        metadata = {"traceparent": traceparent} if traceparent else None
        return self.call(TASKS + "Finish", request, tasks_pb2.Task, metadata, timeout)

    def report_claude_api_errors(self, count, timeout=None):
        """Counts Claude API errors the worker saw (claude_api_errors_total)."""
        self.call(TASKS + "ReportWorkerErrors", tasks_pb2.WorkerReport(claude_api_errors=count), tasks_pb2.Empty,
                  timeout=timeout)


def _serialize(message):
    return message.SerializeToString()


class EventIterator:
    """Events after a sequence number, resumed after the last one seen when the connection is
    lost. `.last_seq` is where it is; `cancel()` (from any thread) ends it. A sidecar that
    restarted numbers its events from 1 again (and answers OUT_OF_RANGE to the old number): the
    iterator then goes on from the new sidecar's next event and counts it in `.restarts`."""

    def __init__(self, client, after_seq, resume):
        self._client = client
        self.last_seq = after_seq
        self._resume = resume
        self._call = None
        self._cancelled = False
        self._failures = 0
        self.restarts = 0  # times the sidecar's sequence started again (a restart)

    def __iter__(self):
        return self

    def __next__(self):
        while not self._cancelled:
            try:
                if self._call is None:
                    self._call = self._client.stream(TASKS + "WatchEvents", tasks_pb2.WatchRequest(after_seq=self.last_seq),
                                                     tasks_pb2.Event)
                event = next(self._call)
            except RPCError as error:
                self._call = None
                if self._resume and not self._cancelled and error.code == StatusCode.OUT_OF_RANGE and self._failures:
                    # The sidecar restarted and numbers its events from 1 again: what the old one
                    # had after last_seq is gone; go on with the new one's events.
                    self.restarts += 1
                    self.last_seq = 0
                    continue
                if self._cancelled or not self._resume or error.code != StatusCode.UNAVAILABLE:
                    raise
                self._failures += 1
                time.sleep(self._client.channel._backoff.delay(self._failures))
                continue
            self._failures = 0
            self.last_seq = event.seq
            return event
        raise StopIteration

    def cancel(self):
        self._cancelled = True
        if self._call is not None:
            self._call.cancel()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cancel()
