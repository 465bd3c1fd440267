"""The gRPC bridge's transport security, against grpcio: mutual TLS lets in only clients with a
certificate of the configured CA, and plaintext off loopback needs `--grpc-insecure`. The
certificates are made by the test (`certificates` fixture, openssl)."""
import json
import shutil
import subprocess

import grpc
import pytest

from conftest import PATIENCE, Sidecar, wait_until
from pipebus._connection import is_serving
from pipebus.health.v1 import health_pb2, health_pb2_grpc

SERVING = health_pb2.HealthCheckResponse.SERVING


def tls_arguments(certificates, listen="127.0.0.1:0", client_ca=True):
    arguments = ["--grpc-listen", listen, "--grpc-tls-cert", certificates.server,
                 "--grpc-tls-key", certificates.server_key]
    return arguments + (["--grpc-tls-client-ca", certificates.ca] if client_ca else [])


@pytest.fixture
def mtls_sidecar(sidecars, certificates):
    return sidecars(arguments=tls_arguments(certificates))


def check(address, credentials=None):
    """Health/Check over a TLS channel (plaintext when `credentials` is None)."""
    channel = grpc.secure_channel(address, credentials) if credentials else grpc.insecure_channel(address)
    with channel:
        return health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=PATIENCE).status


def credentials(certificates, ca="ca", client="client"):
    """Trusts `ca` for the server; presents `client`'s certificate (none when None)."""
    if client is None:
        return grpc.ssl_channel_credentials(root_certificates=certificates.read(ca))
    return grpc.ssl_channel_credentials(root_certificates=certificates.read(ca),
                                        private_key=certificates.read(client + "_key"),
                                        certificate_chain=certificates.read(client))


def assert_refused(address, channel_credentials):
    with pytest.raises(grpc.RpcError) as caught:
        check(address, channel_credentials)
    # Refused at the handshake: the connection fails, no call reaches the sidecar.
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE, caught.value.details()


def test_a_client_certificate_of_the_configured_ca_is_let_in(mtls_sidecar, certificates):
    assert check(mtls_sidecar.grpc_address, credentials(certificates)) == SERVING


def test_a_client_without_a_certificate_is_refused(mtls_sidecar, certificates):
    assert_refused(mtls_sidecar.grpc_address, credentials(certificates, client=None))
    # ... and the sidecar still lets in the next client that has one.
    assert check(mtls_sidecar.grpc_address, credentials(certificates)) == SERVING


def test_a_client_certificate_of_another_ca_is_refused(mtls_sidecar, certificates):
    # Same subject as the good certificate: only the issuer differs.
    assert_refused(mtls_sidecar.grpc_address, credentials(certificates, client="other_client"))
    assert check(mtls_sidecar.grpc_address, credentials(certificates)) == SERVING


def test_a_plaintext_client_is_refused_by_a_tls_sidecar(mtls_sidecar):
    assert_refused(mtls_sidecar.grpc_address, None)


def test_tls_without_a_client_ca_lets_in_any_client_that_trusts_the_server(sidecars, certificates):
    sidecar = sidecars(arguments=tls_arguments(certificates, client_ca=False))
    assert check(sidecar.grpc_address, credentials(certificates, client=None)) == SERVING
    # A client that does not trust the server's CA refuses the server.
    assert_refused(sidecar.grpc_address, credentials(certificates, ca="other_ca", client=None))


def non_loopback_ipv4_address():
    """An IPv4 address of this machine that is not loopback, or None (nothing is sent to it)."""
    if not shutil.which("ip"):
        return None
    result = subprocess.run(["ip", "-j", "-4", "addr", "show", "scope", "global"], capture_output=True, text=True)
    if result.returncode != 0:
        return None
    for interface in json.loads(result.stdout or "[]"):
        for address in interface.get("addr_info", []):
            if address.get("local") and not address["local"].startswith("127."):
                return address["local"]
    return None


def listen_host(which):
    if which == "wildcard":
        return "0.0.0.0"
    host = non_loopback_ipv4_address()
    if host is None:
        pytest.skip("this machine has no non-loopback IPv4 address (`ip -4 addr show scope global` lists none)")
    return host


@pytest.mark.parametrize("which", ["wildcard", "interface"])
def test_plaintext_off_loopback_without_the_insecure_flag_refuses_to_start(root, which):
    sidecar = Sidecar(root, arguments=["--grpc-listen", f"{listen_host(which)}:0"])
    with open(sidecar.log_path, "wb") as log:
        process = subprocess.Popen(sidecar.argv(), stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                                   env=sidecar.environment())
    try:
        wait_until(lambda: process.poll() is not None or is_serving(sidecar.pipe_directory),
                   "the sidecar to exit (or to start)")
        assert process.poll() is not None, f"the sidecar started serving plaintext off loopback:\n{sidecar.log()}"
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
    assert process.returncode == 1, sidecar.log()
    assert "--grpc-insecure" in sidecar.log()
    assert not any(line.get("msg") == "serving gRPC" for line in sidecar.log_lines())


def test_the_insecure_flag_lets_plaintext_listen_on_every_address(sidecars):
    sidecar = sidecars(arguments=["--grpc-listen", "0.0.0.0:0", "--grpc-insecure"])
    port = sidecar.grpc_address.rsplit(":", 1)[1]
    assert check(f"127.0.0.1:{port}") == SERVING  # loopback only: no traffic leaves this machine


def test_tls_off_loopback_needs_no_insecure_flag(sidecars, certificates):
    sidecar = sidecars(arguments=tls_arguments(certificates, listen="0.0.0.0:0"))
    port = sidecar.grpc_address.rsplit(":", 1)[1]
    assert check(f"127.0.0.1:{port}", credentials(certificates)) == SERVING
    assert_refused(f"127.0.0.1:{port}", credentials(certificates, client=None))


def test_the_certificates_chain_as_these_tests_assume(certificates):
    """The refusals above mean something only if the other CA's client certificate really does not
    chain to the CA, and the good ones do."""
    def verify(ca, certificate):
        return subprocess.run(["openssl", "verify", "-CAfile", ca, certificate], capture_output=True).returncode == 0

    assert verify(certificates.ca, certificates.server)
    assert verify(certificates.ca, certificates.client)
    assert verify(certificates.other_ca, certificates.other_client)
    assert not verify(certificates.ca, certificates.other_client)
