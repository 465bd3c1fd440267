"""The circuit breaker, on a clock the test controls."""
import pytest

from pipebus import CLOSED, HALF_OPEN, OPEN, BreakerOpenError, CircuitBreaker, RPCError, StatusCode


class Clock:
    now = 1000.0

    def __call__(self):
        return self.now


def fail():
    raise RPCError(StatusCode.UNAVAILABLE, "down")


def test_opens_after_the_threshold_and_refuses_until_the_timeout():
    clock = Clock()
    breaker = CircuitBreaker("marie", failure_threshold=3, timeout=60, clock=clock)
    for _ in range(3):
        with pytest.raises(RPCError):
            breaker.call(fail)
    assert breaker.state == OPEN
    with pytest.raises(BreakerOpenError) as caught:
        breaker.call(lambda: "never")
    assert caught.value.code == StatusCode.UNAVAILABLE and "marie" in caught.value.message
    clock.now += 60
    assert breaker.state == HALF_OPEN
    assert breaker.call(lambda: "ok") == "ok"
    assert breaker.state == CLOSED and breaker.failures == 0


def test_a_failed_half_open_probe_reopens_at_once():
    clock = Clock()
    breaker = CircuitBreaker("marie", failure_threshold=5, timeout=60, clock=clock)
    for _ in range(5):
        with pytest.raises(RPCError):
            breaker.call(fail)
    clock.now += 61
    with pytest.raises(RPCError):
        breaker.call(fail)  # the probe
    assert breaker.state == OPEN
    with pytest.raises(BreakerOpenError):
        breaker.call(lambda: "refused: the probe failed just now")


def test_only_one_probe_at_a_time_and_the_callers_own_errors_do_not_count():
    clock = Clock()
    breaker = CircuitBreaker("marie", failure_threshold=1, timeout=10, clock=clock)
    with pytest.raises(RPCError):
        breaker.call(fail)
    clock.now += 10
    assert breaker.admit() is None  # the probe goes
    assert "probe" in breaker.admit()  # a second is refused while it is in flight
    breaker.record_success()
    for _ in range(10):
        with pytest.raises(RPCError):
            breaker.call(lambda: (_ for _ in ()).throw(RPCError(StatusCode.NOT_FOUND, "no such task")))
    assert breaker.state == CLOSED
