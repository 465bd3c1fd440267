"""A per-worker circuit breaker with the runbook's states. Unlike the runbook's class, a failed
half-open probe re-opens the breaker at once, and only one probe goes through at a time."""
import threading
import time

from ._status import RPCError, StatusCode

CLOSED = "CLOSED"
OPEN = "OPEN"
HALF_OPEN = "HALF_OPEN"

# Transport and server failures count; answers about the request (NOT_FOUND, INVALID_ARGUMENT,
# ...) do not: the worker is fine.
FAILURE_CODES = frozenset({StatusCode.UNAVAILABLE, StatusCode.DEADLINE_EXCEEDED, StatusCode.INTERNAL,
                           StatusCode.UNKNOWN, StatusCode.RESOURCE_EXHAUSTED, StatusCode.DATA_LOSS})


class BreakerOpenError(RPCError):
    """Raised while the breaker refuses calls: UNAVAILABLE, with the breaker's reason."""

    def __init__(self, message):
        super().__init__(StatusCode.UNAVAILABLE, message)


def counts_as_failure(error):
    return not isinstance(error, RPCError) or error.code in FAILURE_CODES


class CircuitBreaker:
    """CLOSED → OPEN after `failure_threshold` consecutive failures; OPEN refuses calls until
    `timeout` seconds have passed, then HALF_OPEN lets one probe through: its success closes the
    breaker, its failure re-opens it. `clock` (seconds) is for tests."""

    def __init__(self, worker_name=None, failure_threshold=5, timeout=60.0, clock=time.monotonic,
                 is_failure=counts_as_failure):
        self.worker_name = worker_name
        self.failure_threshold = max(1, failure_threshold)
        self.timeout = timeout
        self._clock = clock
        self._is_failure = is_failure
        self._lock = threading.Lock()
        self._state = CLOSED
        self.failures = 0
        self._opened_at = 0.0
        self._probe_in_flight = False

    @property
    def state(self):
        """The state now (an OPEN breaker whose timeout has passed reads as HALF_OPEN)."""
        with self._lock:
            if self._state == OPEN and self._clock() - self._opened_at >= self.timeout:
                return HALF_OPEN
            return self._state

    def admit(self):
        """None to go ahead, else why not (open, or a half-open probe already in flight)."""
        with self._lock:
            if self._state == CLOSED:
                return None
            if self._state == OPEN:
                if self._clock() - self._opened_at < self.timeout:
                    return f"circuit breaker OPEN for {self.worker_name} after {self.failures} failures"
                self._state = HALF_OPEN
            if self._probe_in_flight:
                return f"circuit breaker HALF_OPEN for {self.worker_name}: a probe is in flight"
            self._probe_in_flight = True
            return None

    def record_success(self):
        with self._lock:
            self._state = CLOSED
            self.failures = 0
            self._probe_in_flight = False

    def record_failure(self):
        with self._lock:
            self.failures += 1
            self._probe_in_flight = False
            if self._state == HALF_OPEN or self.failures >= self.failure_threshold:
                self._state = OPEN
                self._opened_at = self._clock()

    def call(self, func, *args, **kwargs):
        """Runs `func` through the breaker (the runbook's signature)."""
        refusal = self.admit()
        if refusal is not None:
            raise BreakerOpenError(refusal)
        try:
            result = func(*args, **kwargs)
        except BaseException as error:
            if isinstance(error, Exception) and self._is_failure(error):
                self.record_failure()
            else:
                self.record_success()
            raise
        self.record_success()
        return result
