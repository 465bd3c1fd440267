"""A channel: one connection at a time to whichever candidate server answers, reconnecting with
exponential backoff after the server restarts or drains (GOAWAY), and the four call kinds in
grpcio's shape (`channel.unary_unary(method)(request, timeout=..., metadata=...)`)."""
import random
import threading
import time

from ._connection import Connection, is_serving
from ._frames import DEFAULT_MAX_FRAME_SIZE
from ._status import RPCError, StatusCode


def _identity(value):
    return value


class Backoff:
    """50 ms doubling to 2 s, ±20 % jitter (docs/PROTOCOL.md §4)."""

    def __init__(self, initial=0.05, maximum=2.0, multiplier=2.0, jitter=0.2):
        self.initial, self.maximum, self.multiplier, self.jitter = initial, maximum, multiplier, jitter

    def delay(self, failures):
        base = min(self.maximum, self.initial * self.multiplier ** max(0, failures - 1))
        return base * random.uniform(1 - self.jitter, 1 + self.jitter)


class Channel:
    """Calls to a server found in one of `directories()` (a callable, asked again at every
    reconnect; the directory used last is tried first). Thread-safe.

    A call in flight when the connection breaks fails with UNAVAILABLE; the next call reconnects,
    or fails at once with UNAVAILABLE while backing off."""

    def __init__(self, directories, connect_timeout=1.0, backoff=None, max_frame_size=DEFAULT_MAX_FRAME_SIZE,
                 peer_name="pipebus-python"):
        if isinstance(directories, str):
            fixed = [directories]
            directories = lambda: fixed  # noqa: E731
        self._directories = directories
        self._connect_timeout = connect_timeout
        self._backoff = backoff or Backoff()
        self._max_frame_size = max_frame_size
        self._peer_name = peer_name
        self._lock = threading.Lock()
        self._connection = None
        self._failures = 0
        self._retry_at = 0.0
        self._last_error = None
        self.directory = None  # of the current (or last) connection

    def connection(self):
        """The current connection, connecting first when there is none or it broke."""
        connection = self._connection
        if connection is not None and connection.usable:
            return connection
        with self._lock:
            connection = self._connection
            if connection is not None and connection.usable:
                return connection
            self._connection = None
            now = time.monotonic()
            if self._last_error is not None and now < self._retry_at:
                raise RPCError(StatusCode.UNAVAILABLE,
                               f"{self._last_error.message} (retrying in {self._retry_at - now:.2f} s)")
            try:
                connection = self._connect_first_answering()
            except RPCError as error:
                self._failures += 1
                self._retry_at = time.monotonic() + self._backoff.delay(self._failures)
                self._last_error = error
                raise
            self._connection = connection
            self._failures = 0
            self._last_error = None
            return connection

    def _connect_first_answering(self):
        candidates = list(self._directories())
        if self.directory in candidates:
            candidates.remove(self.directory)
            candidates.insert(0, self.directory)
        if not candidates:
            raise RPCError(StatusCode.UNAVAILABLE, "no server to connect to (no pipe directory found)")
        deadline = time.monotonic() + self._connect_timeout
        error = None
        for directory in candidates:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                connection = Connection(directory, remaining, self._max_frame_size, self._peer_name)
            except RPCError as failure:
                error = failure
                continue
            self.directory = directory
            return connection
        raise error or RPCError(StatusCode.UNAVAILABLE, "no server answered in time")

    def close(self):
        """Closes the current connection (a later call opens a new one)."""
        with self._lock:
            connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def ping(self, timeout=None):
        """Seconds for a PING/PONG round trip to the server's connection loop."""
        return self.connection().ping(timeout)

    # The call kinds, as grpcio's multi-callables.

    def unary_unary(self, method, request_serializer=None, response_deserializer=None):
        return _UnaryUnary(self, method, request_serializer, response_deserializer)

    def unary_stream(self, method, request_serializer=None, response_deserializer=None):
        return _UnaryStream(self, method, request_serializer, response_deserializer)

    def stream_unary(self, method, request_serializer=None, response_deserializer=None):
        return _StreamUnary(self, method, request_serializer, response_deserializer)

    def stream_stream(self, method, request_serializer=None, response_deserializer=None):
        return _StreamStream(self, method, request_serializer, response_deserializer)


class _MultiCallable:
    def __init__(self, channel, method, serializer, deserializer):
        self._channel = channel
        self._method = method
        self._serialize = serializer or _identity
        self._deserialize = deserializer or _identity

    def _encode(self, request):
        try:
            data = self._serialize(request)
        except RPCError:
            raise
        except (ValueError, TypeError) as error:  # e.g. a str that is not valid UTF-8 (surrogates)
            raise RPCError(StatusCode.INVALID_ARGUMENT, f"{self._method}: the request does not encode: {error}") from None
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise RPCError(StatusCode.INVALID_ARGUMENT, f"{self._method}: a request must be bytes, not {type(data).__name__}")
        return bytes(data)

    def _decode(self, data):
        try:
            return self._deserialize(data)
        except Exception as error:
            raise RPCError(StatusCode.INTERNAL, f"{self._method}: the response does not decode: {error}") from None


class _UnaryUnary(_MultiCallable):
    def __call__(self, request, timeout=None, metadata=None):
        return self.with_call(request, timeout, metadata)[0]

    def with_call(self, request, timeout=None, metadata=None):
        """(response, trailers)."""
        data = self._encode(request)
        response, trailers = self._channel.connection().unary(self._method, data, metadata, timeout, with_trailers=True)
        return self._decode(response), trailers


class _UnaryStream(_MultiCallable):
    def __call__(self, request, timeout=None, metadata=None):
        data = self._encode(request)
        return ResponseIterator(self._channel.connection(), self._method, data, True, metadata, timeout, self._decode)


class _StreamUnary(_MultiCallable):
    def __call__(self, request_iterator, timeout=None, metadata=None):
        call = ResponseIterator(self._channel.connection(), self._method, None, False, metadata, timeout, self._decode)
        with call:
            for request in request_iterator:
                call.send(self._encode(request))
            call.done_writing()
            responses = list(call)
        if len(responses) != 1:
            raise RPCError(StatusCode.INTERNAL, f"{self._method}: {len(responses)} responses to a client-streaming call")
        return responses[0]


class _StreamStream(_MultiCallable):
    def __call__(self, request_iterator=None, timeout=None, metadata=None):
        """A bidirectional call. With `request_iterator`, its requests are sent from a thread;
        without, send with `.send()` and end with `.done_writing()`."""
        call = ResponseIterator(self._channel.connection(), self._method, None, False, metadata, timeout, self._decode)
        call._encode = self._encode
        if request_iterator is not None:
            def pump():
                try:
                    for request in request_iterator:
                        call.send(request)
                    call.done_writing()
                except RPCError:
                    pass
            threading.Thread(target=pump, name="pipebus-requests", daemon=True).start()
        return call


class ResponseIterator:
    """The responses of a streaming call, as they arrive. Iterating ends when the server closes
    the call with OK, and raises RPCError otherwise. `cancel()` (from any thread) ends it with
    CANCELLED; leaving a `with` block cancels a call still open."""

    def __init__(self, connection, method, message, end_stream, metadata, timeout, decode):
        self._connection = connection
        self._method = method
        self._decode = decode
        self._encode = bytes
        self._deadline = None if timeout is None else time.monotonic() + timeout
        self._stream_id, self._stream = connection.open(method, message, end_stream, metadata, timeout)
        self._end = None
        self._pending_end = None

    def __iter__(self):
        return self

    def __next__(self):
        if self._end is not None:
            if self._end.code != StatusCode.OK:
                raise self._end.error()
            raise StopIteration
        if self._pending_end is not None:
            return self._finish(self._pending_end)
        message, end = self._connection.next_item(self._stream_id, self._stream, self._deadline)
        if message is not None:
            self._pending_end = end
            return self._decode(message)
        return self._finish(end)

    def _finish(self, end):
        self._end = end
        self._connection.release(self._stream_id)
        if end.code != StatusCode.OK:
            raise end.error()
        raise StopIteration

    def send(self, request):
        """Sends one request (client streaming and bidirectional calls)."""
        self._connection.send(self._stream_id, self._encode(request))

    def done_writing(self):
        """Half-closes the call: the server sees the end of the requests."""
        self._connection.send(self._stream_id, None, end_stream=True)

    def cancel(self):
        """Cancels the call: the server stops it; iterating raises CANCELLED."""
        self._connection.cancel(self._stream_id)

    def code(self):
        """The call's status code once it ended, else None."""
        return None if self._end is None else self._end.code

    def trailers(self):
        return {} if self._end is None else (self._end.trailers or {})

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self._end is None:
            self._connection.cancel(self._stream_id, StatusCode.CANCELLED, "the caller stopped reading")
            self._connection.release(self._stream_id)

    def __del__(self):
        # A call dropped unfinished is cancelled, but not from here: the garbage collector may run
        # this on a thread holding the connection's locks. The connection does it at its next call.
        if getattr(self, "_end", True) is None:
            self._connection.abandoned.append(self._stream_id)


def pipe_directories(root, worker, instance=None):
    """Where the sidecars of `worker` listen (docs/PROTOCOL.md §1): the one `instance`, or every
    instance that is serving (else every instance), rotated so that clients spread over them."""
    import os

    instances_dir = os.path.join(root, "workers", worker, "instances")
    if instance is not None:
        fixed = [os.path.join(instances_dir, instance, "pipes")]
        return lambda: fixed
    offset = random.randrange(64)

    def candidates():
        try:
            names = sorted(name for name in os.listdir(instances_dir) if valid_name(name))
        except OSError:
            return []
        directories = [os.path.join(instances_dir, name, "pipes") for name in names]
        serving = [d for d in directories if is_serving(d)]
        if not serving:
            return directories
        start = offset % len(serving)
        return serving[start:] + serving[:start]

    return candidates


def valid_name(name):
    """A worker or instance name: 1–64 bytes of letters, digits, `_` and `-`."""
    return 0 < len(name) <= 64 and all(c.isascii() and (c.isalnum() or c in "_-") for c in name)
