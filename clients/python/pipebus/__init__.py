"""pipebus for Python: calls to a worker's pipebus sidecar over named pipes.

    import pipebus
    with pipebus.connect(worker="marie", root="/shared") as client:
        print(client.health().status == pipebus.SERVING)
        task_id = client.submit({"prompt": "hello"})

Every failed call raises `pipebus.RPCError` (`.code`, a `StatusCode`, and `.message`).
`pipebus.aio` has the same calls for asyncio.
"""
from ._channel import Backoff, Channel, ResponseIterator
from ._connection import Connection
from ._status import RPCError, StatusCode
from .breaker import CLOSED, HALF_OPEN, OPEN, BreakerOpenError, CircuitBreaker
from .client import ACTIVE, COMPLETED, FAILED, NOT_SERVING, PENDING, SERVING, Client, EventIterator, connect
from .fleet import Fleet
from .worker import run_worker

__version__ = "0.1.0"
__all__ = [
    "ACTIVE", "Backoff", "BreakerOpenError", "CLOSED", "COMPLETED", "Channel", "CircuitBreaker", "Client",
    "Connection", "EventIterator", "FAILED", "Fleet", "HALF_OPEN", "NOT_SERVING", "OPEN", "PENDING", "RPCError",
    "ResponseIterator", "SERVING", "StatusCode", "connect", "run_worker",
]
