"""Certificates for the TLS tests, made with `openssl` in a folder of the test's: two CAs, a server
certificate of the first for 127.0.0.1 and localhost, and a client certificate of each CA."""
import os
import subprocess
from dataclasses import dataclass

# P-256 keys: quick to make (an RSA key takes a noticeable moment on a loaded machine).
_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


@dataclass(frozen=True)
class Certificates:
    """Paths of PEM files."""
    ca: str
    server: str
    server_key: str
    client: str
    client_key: str
    other_ca: str
    other_client: str  # issued by other_ca, with the same subject as `client`
    other_client_key: str

    def read(self, name):
        with open(getattr(self, name), "rb") as pem:
            return pem.read()


def _openssl(*arguments, cwd):
    result = subprocess.run(["openssl", *arguments], cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(arguments)} failed: {result.stderr}")


def _make_ca(directory, name):
    _openssl("req", "-x509", *_KEY, "-keyout", f"{name}-key.pem", "-out", f"{name}.pem", "-days", "2",
             "-subj", f"/CN=pipebus test {name}", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=directory)


def _issue(directory, ca, name, serial, subject, extensions):
    _openssl("req", *_KEY, "-keyout", f"{name}-key.pem", "-out", f"{name}.csr", "-subj", subject, cwd=directory)
    with open(os.path.join(directory, f"{name}.ext"), "w") as file:
        file.write("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n" + extensions)
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}-key.pem", "-set_serial",
             str(serial), "-days", "2", "-out", f"{name}.pem", "-extfile", f"{name}.ext",
             cwd=directory)


def make_certificates(directory):
    """Makes every file in `directory` (which exists) and returns their paths."""
    _make_ca(directory, "ca")
    _make_ca(directory, "other-ca")
    _issue(directory, "ca", "server", 2, "/CN=localhost",
           "extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n")
    _issue(directory, "ca", "client", 3, "/CN=orchestrator", "extendedKeyUsage=clientAuth\n")
    _issue(directory, "other-ca", "other-client", 2, "/CN=orchestrator", "extendedKeyUsage=clientAuth\n")
    path = lambda name: os.path.join(directory, name)  # noqa: E731
    return Certificates(ca=path("ca.pem"), server=path("server.pem"), server_key=path("server-key.pem"),
                        client=path("client.pem"), client_key=path("client-key.pem"), other_ca=path("other-ca.pem"),
                        other_client=path("other-client.pem"), other_client_key=path("other-client-key.pem"))
