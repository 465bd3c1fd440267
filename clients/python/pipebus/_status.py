"""Status codes and the error every failed call raises (docs/PROTOCOL.md §5)."""
import enum


class StatusCode(enum.IntEnum):
    """gRPC's seventeen status codes, with gRPC's numbers."""

    OK = 0
    CANCELLED = 1
    UNKNOWN = 2
    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    ABORTED = 10
    OUT_OF_RANGE = 11
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14
    DATA_LOSS = 15
    UNAUTHENTICATED = 16

    @classmethod
    def of(cls, number):
        """The code numbered `number`; UNKNOWN for a number gRPC does not define."""
        try:
            return cls(number)
        except ValueError:
            return cls.UNKNOWN


class RPCError(Exception):
    """A call that did not end with OK: `.code` (a StatusCode), `.message` and the server's
    `.trailers` (a dict; empty when the error arose on this side)."""

    def __init__(self, code, message="", trailers=None):
        self.code = StatusCode.of(int(code))
        self.message = message
        self.trailers = dict(trailers or {})
        super().__init__(f"{self.code.name}: {message}" if message else self.code.name)

    # grpcio's spelling, so code written for grpc.RpcError reads the same.
    def details(self):
        return self.message

    def __reduce__(self):
        return (type(self), (int(self.code), self.message, self.trailers))
