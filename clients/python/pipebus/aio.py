"""pipebus for asyncio: the same calls as `pipebus.Client`, awaitable.

This first version runs the thread-safe transport's blocking calls in the event loop's default
executor (one worker thread per call in flight), so it is correct and as concurrent as that
executor, but each call pays a thread hop (tens of microseconds); a native event-loop reader is
future work."""
import asyncio
import functools

from . import client as _client
from ._status import RPCError, StatusCode


def connect(worker=None, root=None, instance=None, directory=None, timeout=5.0, breaker=None,
            connect_timeout=1.0, peer_name="pipebus-python-aio"):
    """An AsyncClient of `worker`'s sidecar (see pipebus.connect); `async with` closes it."""
    return AsyncClient(_client.Client(worker=worker, root=root, instance=instance, directory=directory, timeout=timeout,
                                      breaker=breaker, connect_timeout=connect_timeout, peer_name=peer_name))


class AsyncClient:
    _UNARY = ("health", "is_serving", "list_services", "submit", "get", "tasks", "cancel", "replay", "clear_stuck",
              "config", "set_config", "status", "finish", "report_claude_api_errors", "ping", "call")
    _STREAMS = ("watch_health", "events", "lease", "stream")

    def __init__(self, sync_client):
        self.sync = sync_client

    def __getattr__(self, name):
        if name in self._UNARY:
            method = getattr(self.sync, name)

            @functools.wraps(method)
            async def unary(*args, **kwargs):
                loop = asyncio.get_running_loop()
                return await loop.run_in_executor(None, functools.partial(method, *args, **kwargs))

            return unary
        if name in self._STREAMS:
            method = getattr(self.sync, name)

            @functools.wraps(method)
            def streaming(*args, **kwargs):
                return AsyncResponseIterator(lambda: method(*args, **kwargs))

            return streaming
        raise AttributeError(name)

    async def close(self):
        self.sync.close()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        self.sync.close()


_DONE = object()


class AsyncResponseIterator:
    """A streaming call's responses as an async iterator; `cancel()` ends it. Cancelling the
    task that iterates cancels the call too."""

    def __init__(self, start):
        self._start = start
        self._call = None

    def __aiter__(self):
        return self

    async def __anext__(self):
        loop = asyncio.get_running_loop()
        if self._call is None:
            self._call = await loop.run_in_executor(None, self._start)
        try:
            item = await loop.run_in_executor(None, next, self._call, _DONE)
        except asyncio.CancelledError:
            self.cancel()
            raise
        if item is _DONE:
            raise StopAsyncIteration
        return item

    def cancel(self):
        if self._call is not None:
            self._call.cancel()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        self.cancel()


__all__ = ["AsyncClient", "AsyncResponseIterator", "RPCError", "StatusCode", "connect"]
