"""One connection to a pipebus server over a FIFO pair (docs/PROTOCOL.md §2–§4): the connect
procedure, the handshake, and calls multiplexed by stream id.

Nobody reads the connection in the background. A caller waiting for its reply that finds no one
reading becomes the reader (the leader): it reads on its own thread, hands frames for other calls
to them, and once its own reply is in passes the reading role to another waiting caller. A lone
call thus reads its own reply with no thread hop (as the Swift client does), and many threads
sharing the connection still each get their own reply.
"""
import collections
import errno
import os
import random
import select
import stat
import threading
import time

from ._frames import DEFAULT_MAX_FRAME_SIZE, FrameDecoder, ProtocolError, encode_frame
from ._status import RPCError, StatusCode
from .v1 import envelope_pb2 as _pb

PROTOCOL_VERSION = 1
HELLO, HELLO_ACK, PING, PONG, GOAWAY, OPEN, MESSAGE, CLOSE, CANCEL = range(1, 10)
HAS_MESSAGE = 1
END_STREAM = 2
CONNECT_RECORD_LIMIT = 4096
MAX_METADATA_ENTRIES = 128
# Below glibc's mmap threshold (128 KiB): os.read allocates this much and shrinks it, and a
# larger buffer would cost an mmap, page faults and a munmap per read (~40 µs).
_READ_SIZE = 64 * 1024
_FIFO_FLAGS = os.O_NONBLOCK | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0)
_Envelope = _pb.Envelope
_SMALL = [bytes((i,)) for i in range(128)]
_CODES = list(StatusCode)  # by number: an IntEnum lookup by value costs a microsecond
_WAKE_PING = b"\x00\x00\x00\x00\x02\x10" + _SMALL[PING]  # kind PING, ping_data 0 (a PONG nobody waits for)
_open_prefixes = {}


def _varint(value):
    if value < 0x80:
        return _SMALL[value]
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _open_prefix(method):
    """The fields of an OPEN envelope that depend only on the method (kind, method)."""
    prefix = _open_prefixes.get(method)
    if prefix is None:
        try:
            name = method.encode()
        except (AttributeError, UnicodeEncodeError):
            raise RPCError(StatusCode.INVALID_ARGUMENT, f"method {method!r} is not UTF-8 text") from None
        prefix = b"\x10" + _SMALL[OPEN] + b"\x22" + _varint(len(name)) + name
        if len(_open_prefixes) < 1024:
            _open_prefixes[method] = prefix
    return prefix


class _End:
    """How a stream ended: a status and the trailers."""

    __slots__ = ("code", "message", "trailers")

    def __init__(self, code, message="", trailers=None):
        self.code = code
        self.message = message
        self.trailers = trailers

    def error(self):
        return RPCError(self.code, self.message, self.trailers)


_OK_END = _End(StatusCode.OK)


class _Stream:
    """One call's inbox: (message or None, _End or None) items, in order."""

    __slots__ = ("items", "waiter", "ended", "lead")

    def __init__(self):
        self.items = collections.deque()
        self.waiter = None  # a held threading.Lock its caller blocks on
        self.ended = False  # an end is queued: nothing more is delivered
        self.lead = False  # the caller was handed the reading role


def metadata_entries(metadata):
    """Request metadata (a dict or pairs) as MetadataEntry messages; values str or bytes."""
    if not metadata:
        return ()
    pairs = metadata.items() if isinstance(metadata, dict) else metadata
    entries = []
    for key, value in pairs:
        if not isinstance(key, str) or not key or key != key.lower() or not key.isascii():
            raise RPCError(StatusCode.INVALID_ARGUMENT, f"metadata key {key!r} is not lower-case ASCII")
        if isinstance(value, str):
            if key.endswith("-bin"):
                raise RPCError(StatusCode.INVALID_ARGUMENT, f"metadata key {key!r} ends in -bin: its value must be bytes")
            value = value.encode()
        entries.append(_pb.MetadataEntry(key=key, value=bytes(value)))
    if len(entries) > MAX_METADATA_ENTRIES:
        raise RPCError(StatusCode.INVALID_ARGUMENT, f"{len(entries)} metadata entries; at most {MAX_METADATA_ENTRIES}")
    return entries


def metadata_dict(entries):
    """Trailers as a dict: text values as str, `-bin` ones as bytes."""
    result = {}
    for entry in entries:
        value = entry.value
        if not entry.key.endswith("-bin"):
            try:
                value = value.decode()
            except UnicodeDecodeError:
                pass
        result[entry.key] = value
    return result


def _check_directory(path):
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        raise RPCError(StatusCode.UNAVAILABLE, f"pipe directory {path} does not exist") from None
    if not stat.S_ISDIR(info.st_mode):
        raise RPCError(StatusCode.PERMISSION_DENIED, f"pipe directory {path} is not a directory (a symlink or file is refused)")
    if info.st_uid != os.geteuid():
        raise RPCError(StatusCode.PERMISSION_DENIED, f"pipe directory {path} is owned by uid {info.st_uid}, not {os.geteuid()}")
    if info.st_mode & 0o077:
        raise RPCError(StatusCode.PERMISSION_DENIED, f"pipe directory {path} has mode {info.st_mode & 0o777:o}; it must be 0700")


def _open_fifo(path, flags):
    fd = os.open(path, flags | _FIFO_FLAGS)
    try:
        info = os.fstat(fd)
        if not stat.S_ISFIFO(info.st_mode):
            raise RPCError(StatusCode.PERMISSION_DENIED, f"{path} is not a FIFO; refusing it")
        if info.st_uid != os.geteuid():
            raise RPCError(StatusCode.PERMISSION_DENIED, f"FIFO {path} is owned by uid {info.st_uid}, not {os.geteuid()}")
    except BaseException:
        os.close(fd)
        raise
    return fd


def is_serving(directory):
    """Whether a server listens in `directory`: its connect FIFO has a reader (probed with a
    non-blocking open for writing, which fails with ENXIO when nobody reads)."""
    try:
        fd = _open_fifo(os.path.join(directory, "connect"), os.O_WRONLY)
    except (OSError, RPCError):
        return False
    os.close(fd)
    return True


class Connection:
    """A connected FIFO pair. Thread-safe: any number of threads may call at once."""

    def __init__(self, directory, timeout=1.0, max_frame_size=DEFAULT_MAX_FRAME_SIZE,
                 peer_name="pipebus-python", write_timeout=5.0):
        self.directory = directory
        self.max_frame_size = max_frame_size
        self._write_timeout = write_timeout
        self._lock = threading.Lock()  # streams, ids, the reading role, failure
        self._write_lock = threading.RLock()  # frames leave whole, and OPENs in id order
        self._streams = {}
        # Calls dropped unfinished (by the garbage collector), cancelled at the next open.
        self.abandoned = []
        self._next_stream_id = 1
        self._next_ping_id = 2
        self._reading = False
        self._failure = None
        self._goaway_after = None
        self._decoder = FrameDecoder(max_frame_size)
        self._read_fd = self._write_fd = -1
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_read, False)
        os.set_blocking(self._wake_write, False)
        try:
            self.server_hello = self._connect(directory, timeout, peer_name)
        except BaseException:
            self._close_fds()
            raise
        self._compress = self.server_hello.compression
        self._server_max_frame = self.server_hello.max_frame_size or DEFAULT_MAX_FRAME_SIZE
        # A caller with no deadline blocks in read(2) for its reply: one system call, not poll
        # then read. Whatever must wake it (a cancel, a close) sends a PING, answered by a PONG.
        os.set_blocking(self._read_fd, True)
        self._poll = select.poll()
        self._poll.register(self._read_fd, select.POLLIN)
        self._poll.register(self._wake_read, select.POLLIN)

    # Connecting (§2)

    def _connect(self, directory, timeout, peer_name):
        deadline = time.monotonic() + timeout
        connect_path = os.path.join(directory, "connect")
        try:
            os.lstat(connect_path)
        except FileNotFoundError:
            raise RPCError(StatusCode.UNAVAILABLE, f"no server is listening in {directory} (no connect FIFO)") from None
        _check_directory(directory)
        connection_id = f"c{os.getpid()}-{random.getrandbits(48):012x}"
        inbound = os.path.join(directory, connection_id + ".s2c")
        outbound = os.path.join(directory, connection_id + ".c2s")
        hello = _pb.Hello(protocol_version=PROTOCOL_VERSION, max_frame_size=self.max_frame_size,
                          compression=True, peer_name=peer_name, pid=os.getpid())
        try:
            os.mkfifo(inbound, 0o600)
            os.mkfifo(outbound, 0o600)
            # The reply FIFO is open for reading before the record goes, or the server's
            # non-blocking open of its write end fails (ENXIO) and it drops the connection.
            self._read_fd = _open_fifo(inbound, os.O_RDONLY)
            record = _pb.ConnectRecord(connection_id=connection_id, hello=hello).SerializeToString()
            self._send_connect_record(connect_path, encode_frame(record, CONNECT_RECORD_LIMIT, False), deadline)
            server_hello = self._read_server_hello(deadline)
            # The server opened the request FIFO for reading before its HELLO_ACK.
            self._write_fd = _open_fifo(outbound, os.O_WRONLY)
        except OSError as error:
            raise RPCError(StatusCode.UNAVAILABLE, f"cannot connect to {directory}: {error}") from None
        finally:
            for path in (inbound, outbound):
                try:
                    os.unlink(path)
                except OSError:
                    pass
        self._send_envelope(_Envelope(stream_id=0, kind=HELLO, hello=hello))
        return server_hello

    @staticmethod
    def _send_connect_record(path, frame, deadline):
        try:
            fd = _open_fifo(path, os.O_WRONLY)
        except OSError as error:
            if error.errno in (errno.ENXIO, errno.ENOENT):
                raise RPCError(StatusCode.UNAVAILABLE, f"no server is listening in {os.path.dirname(path)}") from None
            raise
        try:
            while True:
                try:
                    written = os.write(fd, frame)  # ≤ PIPE_BUF: whole or nothing
                except BlockingIOError:
                    # The connect FIFO is full: the server is busy; retry until the deadline.
                    if time.monotonic() >= deadline:
                        raise RPCError(StatusCode.UNAVAILABLE, "the server's connect FIFO stayed full; is it overloaded?") from None
                    time.sleep(0.001)
                    continue
                if written != len(frame):
                    raise RPCError(StatusCode.INTERNAL, f"connect record written partly ({written} of {len(frame)} bytes)")
                return
        finally:
            os.close(fd)

    def _read_server_hello(self, deadline):
        poller = select.poll()
        poller.register(self._read_fd, select.POLLIN)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not poller.poll(remaining * 1000):
                raise RPCError(StatusCode.UNAVAILABLE, f"no handshake from the server in {self.directory} in time")
            try:
                data = os.read(self._read_fd, _READ_SIZE)
            except BlockingIOError:
                continue
            if not data:
                # The server has not opened its write end yet (or closed it): POLLHUP with no
                # writer. Before the server's open this is expected; wait a little.
                time.sleep(0.001)
                continue
            try:
                bodies = self._decoder.feed(data)
            except ProtocolError as error:
                raise RPCError(StatusCode.UNAVAILABLE, f"bad handshake from the server: {error}") from None
            if not bodies:
                continue
            envelope = _Envelope.FromString(bodies[0])
            if envelope.kind == GOAWAY:
                raise RPCError(StatusCode.UNAVAILABLE, f"server refused the connection: {envelope.status_message}")
            if envelope.kind != HELLO_ACK:
                raise RPCError(StatusCode.INTERNAL, f"expected HELLO_ACK from the server, got kind {envelope.kind}")
            if envelope.hello.protocol_version != PROTOCOL_VERSION:
                raise RPCError(StatusCode.FAILED_PRECONDITION,
                               f"server speaks protocol {envelope.hello.protocol_version}, this client {PROTOCOL_VERSION}")
            # Anything read past the handshake is dispatched with the next read.
            self._early = bodies[1:]
            return envelope.hello

    # State

    @property
    def usable(self):
        """Whether the connection can take new calls (not failed, no GOAWAY)."""
        return self._failure is None and self._goaway_after is None

    def close(self):
        """Closes the connection; calls in flight fail with UNAVAILABLE."""
        self._fail(RPCError(StatusCode.UNAVAILABLE, "the connection was closed"))

    def _fail(self, error):
        with self._lock:
            if self._failure is not None:
                return
            self._failure = error
            waiters = [s.waiter for s in self._streams.values() if s.waiter is not None]
            for stream in self._streams.values():
                stream.waiter = None
            reading = self._reading
        for waiter in waiters:
            waiter.release()
        if reading:
            self._wake()
        else:
            self._close_fds()

    def _close_fds(self):
        with self._write_lock:
            for name in ("_read_fd", "_write_fd", "_wake_read", "_wake_write"):
                fd = getattr(self, name)
                if fd >= 0:
                    setattr(self, name, -1)
                    try:
                        os.close(fd)
                    except OSError:
                        pass

    def _wake(self):
        """Interrupts the reader: a byte on the wake pipe for one in poll, and a PING (whose PONG
        the server sends back at once) for one blocked in read."""
        try:
            os.write(self._wake_write, b"\0")
        except OSError:
            pass
        with self._write_lock:
            try:
                os.write(self._write_fd, _WAKE_PING)
            except OSError:
                pass

    def __del__(self):
        try:
            self._close_fds()
        except Exception:
            pass

    # Writing

    def _send_envelope(self, envelope):
        with self._write_lock:
            self._write(encode_frame(envelope.SerializeToString(), getattr(self, "_server_max_frame", DEFAULT_MAX_FRAME_SIZE),
                                     getattr(self, "_compress", False)))

    def _write(self, data):
        """Writes all of `data` (under the write lock); a server that does not read for the
        write timeout, or has gone, fails the connection."""
        try:
            try:
                written = os.write(self._write_fd, data)
            except BlockingIOError:
                written = 0
            if written == len(data):
                return
            view = memoryview(data)[written:]
            deadline = time.monotonic() + self._write_timeout
            poller = select.poll()
            poller.register(self._write_fd, select.POLLOUT)
            while view:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise RPCError(StatusCode.UNAVAILABLE, f"the server did not read for {self._write_timeout} s")
                poller.poll(remaining * 1000)
                try:
                    view = view[os.write(self._write_fd, view):]
                except BlockingIOError:
                    pass
        except OSError as error:
            failure = RPCError(StatusCode.UNAVAILABLE, f"writing to the server failed: {error}")
            self._fail(failure)
            raise failure from None
        except RPCError as failure:
            self._fail(failure)
            raise

    # Streams

    def open(self, method, message=None, end_stream=True, metadata=None, timeout=None):
        """Opens a call; its stream id and inbox. `message`: the first request (bytes)."""
        while self.abandoned:
            abandoned = self.abandoned.pop()
            self.cancel(abandoned, StatusCode.CANCELLED, "the caller dropped the call")
            self.release(abandoned)
        flags = END_STREAM if end_stream else 0
        tail = b""
        if timeout is not None:
            tail = b"\x30" + _varint(max(1, int(timeout * 1_000_000)))
        if metadata:
            tail += _Envelope(metadata=metadata_entries(metadata)).SerializeToString()
        if message is not None:
            flags |= HAS_MESSAGE
            tail += b"\x3a" + _varint(len(message)) + message
        prefix = _open_prefix(method) + b"\x18" + _SMALL[flags]
        stream = _Stream()
        with self._write_lock:
            # The id is taken under the write lock, so that OPENs leave in id order.
            with self._lock:
                if self._failure is not None:
                    raise self._failure
                if self._goaway_after is not None:
                    raise RPCError(StatusCode.UNAVAILABLE, "the server is draining this connection (GOAWAY)")
                stream_id = self._next_stream_id
                self._next_stream_id += 2
                self._streams[stream_id] = stream
            try:
                body = prefix + b"\x08" + _varint(stream_id) + tail
                self._write(encode_frame(body, self._server_max_frame, self._compress))
            except BaseException:
                with self._lock:
                    self._streams.pop(stream_id, None)
                raise
        return stream_id, stream

    def send(self, stream_id, message=None, end_stream=False):
        """Sends a MESSAGE on an open call (client streaming): `message` and/or the half-close."""
        envelope = _Envelope(stream_id=stream_id, kind=MESSAGE, flags=END_STREAM if end_stream else 0)
        if message is not None:
            envelope.message = message
            envelope.flags |= HAS_MESSAGE
        with self._lock:
            if self._failure is not None:
                raise self._failure
        self._send_envelope(envelope)

    def cancel(self, stream_id, code=StatusCode.CANCELLED, message="the call was cancelled by the client"):
        """Ends a call on this side (its caller gets `code`) and tells the server, unless the
        call had already ended."""
        with self._lock:
            stream = self._streams.get(stream_id)
            if stream is None or stream.ended:
                return
            stream.ended = True
            stream.items.append((None, _End(code, message)))
            waiter, stream.waiter = stream.waiter, None
            # A caller blocked reading as the leader is woken through the wake pipe.
            wake = waiter is None and self._reading
        if waiter is not None:
            waiter.release()
        elif wake:
            self._wake()
        try:
            self._send_envelope(_Envelope(stream_id=stream_id, kind=CANCEL, status_code=int(code), status_message=message))
        except RPCError:
            pass

    def release(self, stream_id):
        """Forgets a call its caller is done with."""
        with self._lock:
            self._streams.pop(stream_id, None)

    def next_item(self, stream_id, stream, deadline=None):
        """The next (message, end) of a call, reading the connection if nobody else is.
        `deadline` (time.monotonic()): then the call is cancelled with DEADLINE_EXCEEDED."""
        while True:
            with self._lock:
                if stream.items:
                    return stream.items.popleft()
                if self._failure is not None:
                    raise self._failure
                if stream.lead or not self._reading:
                    stream.lead = False
                    self._reading = True
                    waiter = None
                else:
                    waiter = stream.waiter = threading.Lock()
                    waiter.acquire()
            if waiter is None:
                item = self._lead(stream_id, stream, deadline)
                if item is not None:
                    return item
                continue
            if deadline is None:
                waiter.acquire()
                continue
            remaining = deadline - time.monotonic()
            if remaining > 0 and waiter.acquire(timeout=remaining):
                continue
            with self._lock:
                timed_out = stream.waiter is waiter
                if timed_out:
                    stream.waiter = None
            if timed_out:
                self.cancel(stream_id, StatusCode.DEADLINE_EXCEEDED, "deadline exceeded")

    def _lead(self, stream_id, stream, deadline):
        """Reads as the leader until `stream` has something (returned, taken off its queue, with
        the role passed on in the same turn of the lock), or the connection fails (None)."""
        try:
            while True:
                if deadline is None:
                    readable = True  # a blocking read: a reply, a PONG to a wake-up, or EOF ends it
                else:
                    readable = False
                    timeout = (deadline - time.monotonic()) * 1000
                    if timeout <= 0:
                        self.cancel(stream_id, StatusCode.DEADLINE_EXCEEDED, "deadline exceeded")
                    else:
                        for fd, _ in self._poll.poll(timeout):
                            if fd == self._read_fd:
                                readable = True
                            else:
                                try:
                                    os.read(self._wake_read, 4096)
                                except OSError:
                                    pass
                if readable and self._failure is None:
                    self._read_and_dispatch()
                with self._lock:
                    if not stream.items and self._failure is None:
                        continue
                    item = stream.items.popleft() if stream.items else None
                    waiter = self._hand_role_locked()
                self._after_role(waiter)
                return item
        except BaseException:
            self._pass_role()
            raise

    def _hand_role_locked(self):
        """The waiting caller to hand the reading role to (its lock to release), or None with
        the role left free. Under the lock."""
        if self._failure is None:
            for other in self._streams.values():
                if other.waiter is not None and not other.items:
                    waiter, other.waiter = other.waiter, None
                    other.lead = True
                    return waiter
        self._reading = False
        return None

    def _after_role(self, waiter):
        if waiter is not None:
            waiter.release()
        elif self._failure is not None:
            self._close_fds()  # the last reader of a failed connection closes it

    def _pass_role(self):
        with self._lock:
            waiter = self._hand_role_locked()
        self._after_role(waiter)

    # Reading (by the role holder)

    def _read_and_dispatch(self):
        try:
            data = os.read(self._read_fd, _READ_SIZE)
        except BlockingIOError:
            return
        except OSError as error:
            self._fail(RPCError(StatusCode.UNAVAILABLE, f"reading from the server failed: {error}"))
            return
        if not data:
            self._fail(RPCError(StatusCode.UNAVAILABLE, "the server closed the connection"))
            return
        try:
            bodies = self._decoder.feed(data)
            if self._early:
                bodies[:0], self._early = self._early, []
            for body in bodies:
                self._dispatch(_Envelope.FromString(body))
        except (ProtocolError, Exception) as error:  # a body that does not decode, too
            self._fail(RPCError(StatusCode.INTERNAL, f"corrupt frame from the server: {error}"))

    _early = ()

    def _dispatch(self, envelope):
        kind = envelope.kind
        if kind == CLOSE or kind == MESSAGE or kind == CANCEL:
            stream_id = envelope.stream_id
            message = envelope.message if envelope.flags & HAS_MESSAGE else None
            end = None
            if kind != MESSAGE:
                code = envelope.status_code
                metadata = envelope.metadata
                if code == 0 and not metadata and kind == CLOSE:
                    end = _OK_END  # a plain successful reply: one shared end
                else:
                    trailers = metadata_dict(metadata) if metadata else None
                    end = _End(_CODES[code] if code < len(_CODES) else StatusCode.UNKNOWN, envelope.status_message, trailers)
                if kind == CANCEL:
                    message = None
            with self._lock:
                stream = self._streams.get(stream_id)
                if stream is None or stream.ended:
                    return
                if message is not None or end is not None:
                    stream.items.append((message, end))
                if end is not None:
                    stream.ended = True
                waiter, stream.waiter = stream.waiter, None
            if waiter is not None:
                waiter.release()
        elif kind == PONG:
            with self._lock:
                stream = self._streams.get(envelope.ping_data)
                if stream is None or stream.ended:
                    return
                stream.items.append((None, _End(StatusCode.OK)))
                stream.ended = True
                waiter, stream.waiter = stream.waiter, None
            if waiter is not None:
                waiter.release()
        elif kind == PING:
            try:
                self._send_envelope(_Envelope(stream_id=0, kind=PONG, ping_data=envelope.ping_data))
            except RPCError:
                pass
        elif kind == GOAWAY:
            # Streams above the id will not be served; those at or below it finish.
            code = StatusCode.of(envelope.status_code) if envelope.status_code else StatusCode.UNAVAILABLE
            reason = envelope.status_message or "the server is going away"
            waiters = []
            with self._lock:
                self._goaway_after = envelope.stream_id
                for stream_id, stream in self._streams.items():
                    if stream_id % 2 == 1 and stream_id > envelope.stream_id and not stream.ended:
                        stream.items.append((None, _End(StatusCode.UNAVAILABLE, f"server is draining: {reason}")))
                        stream.ended = True
                        if stream.waiter is not None:
                            waiters.append(stream.waiter)
                            stream.waiter = None
                self.goaway_code = code
            for waiter in waiters:
                waiter.release()

    # Ping

    def ping(self, timeout=None):
        """A round trip to the server's connection loop; seconds."""
        start = time.monotonic()
        stream = _Stream()
        with self._lock:
            if self._failure is not None:
                raise self._failure
            ping_id = self._next_ping_id
            self._next_ping_id = (self._next_ping_id + 2) & 0xFFFFFFFF or 2
            self._streams[ping_id] = stream
        try:
            self._send_envelope(_Envelope(stream_id=0, kind=PING, ping_data=ping_id))
            _, end = self.next_item(ping_id, stream, None if timeout is None else start + timeout)
            if end.code != StatusCode.OK:
                raise end.error()
        finally:
            self.release(ping_id)
        return time.monotonic() - start

    # Calls

    def unary(self, method, request, metadata=None, timeout=None, with_trailers=False):
        """A unary call: the response's bytes (with `with_trailers`, (bytes, trailers))."""
        deadline = None if timeout is None else time.monotonic() + timeout
        stream_id, stream = self.open(method, request, True, metadata, timeout)
        response = None
        try:
            while True:
                message, end = self.next_item(stream_id, stream, deadline)
                if message is not None:
                    if response is not None:
                        self.cancel(stream_id, StatusCode.INTERNAL, "more than one response to a unary call")
                        raise RPCError(StatusCode.INTERNAL, f"{method}: the server sent more than one response to a unary call")
                    response = message
                if end is not None:
                    if end.code != StatusCode.OK:
                        raise end.error()
                    if response is None:
                        raise RPCError(StatusCode.INTERNAL, f"{method}: the server ended the call without a response")
                    return (response, end.trailers or {}) if with_trailers else response
        finally:
            with self._lock:
                self._streams.pop(stream_id, None)
