"""The `service` blocks of proto/ name methods a sidecar registers: every method of every service
in the generated modules, called with the kind its block declares, answers something other than
UNIMPLEMENTED (what a server answers for a path it does not register). A method renamed or
declared on the .proto side only fails here."""
import importlib
import pkgutil

import pipebus
from pipebus import RPCError, StatusCode
from pipebus._channel import ResponseIterator

# Every service the sidecar serves has a block; a module losing its block fails here.
SERVICES = {"pipebus.health.v1.Health", "pipebus.tasks.v1.Tasks", "pipebus.testing.v1.Echo"}
BARRIER = "/pipebus.testing.v1.Echo/Echo"


def proto_methods():
    """(path, client_streaming, server_streaming) of every method of every generated module."""
    methods = []
    for module_info in pkgutil.walk_packages(pipebus.__path__, "pipebus."):
        if module_info.name.endswith("_pb2"):
            for service in importlib.import_module(module_info.name).DESCRIPTOR.services_by_name.values():
                for method in service.methods:
                    methods.append((f"/{service.full_name}/{method.name}", method.client_streaming,
                                    method.server_streaming))
    return sorted(methods)


def status_of(channel, path, client_streaming, server_streaming):
    """The status of a call of `path` with one empty request, made with the declared kind."""
    try:
        if server_streaming and not client_streaming:
            # Health.Watch, Tasks.Lease and WatchEvents stay open: the server answers an OPEN in
            # order on its reader thread, UNIMPLEMENTED included, so once a later Echo on the same
            # connection is back, an UNIMPLEMENTED would already be in; then cancel and drain.
            call = ResponseIterator(channel.connection(), path, b"", True, None, None, bytes)
            channel.unary_unary(BARRIER)(b"")
            call.cancel()
            for _ in call:
                pass
        elif server_streaming:
            list(channel.stream_stream(path)(iter([b""])))
        elif client_streaming:
            channel.stream_unary(path)(iter([b""]))
        else:
            channel.unary_unary(path)(b"")
        return StatusCode.OK
    except RPCError as error:
        return error.code


def test_every_service_has_a_block():
    assert {path.split("/")[1] for path, _, _ in proto_methods()} == SERVICES


def test_every_method_of_the_service_blocks_is_registered(channel):
    unregistered = [path for path, client_streaming, server_streaming in proto_methods()
                    if status_of(channel, path, client_streaming, server_streaming) == StatusCode.UNIMPLEMENTED]
    assert unregistered == []


def test_a_path_the_sidecar_does_not_register_is_seen_with_every_call_kind(channel):
    # The check above can fail: the same probe of an unknown path, for each kind, sees UNIMPLEMENTED.
    for client_streaming in (False, True):
        for server_streaming in (False, True):
            path = "/pipebus.testing.v1.Echo/NoSuchMethod"
            assert status_of(channel, path, client_streaming, server_streaming) == StatusCode.UNIMPLEMENTED


def test_list_services_names_only_services_with_a_block(client):
    assert set(client.list_services()) <= SERVICES
