"""The emulator's own certificate authority, so it can serve ``https://`` and ``wss://`` like Webex does.

Clients that only speak TLS, or that must be tested as they run against Webex (certificate checks on),
need a certificate they can trust. A fresh authority is made for each run (with ``trustme``, the
``tls`` extra), never installed anywhere: its certificate goes to a file in a folder of this run's own,
and clients are pointed at that file (``REQUESTS_CA_BUNDLE``, ``SSL_CERT_FILE``,
``NODE_EXTRA_CA_CERTS``). The folder goes when the emulator stops.
"""
from __future__ import annotations

import shutil
import ssl
import tempfile
from pathlib import Path

LOOPBACK_NAMES = ("127.0.0.1", "localhost")
WILDCARD_HOSTS = ("0.0.0.0", "::", "")


def client_env(ca_file: str) -> dict[str, str]:
    """The environment that makes Python (requests, ssl) and Node clients trust ``ca_file``."""
    return {"REQUESTS_CA_BUNDLE": ca_file, "SSL_CERT_FILE": ca_file, "NODE_EXTRA_CA_CERTS": ca_file}


class Authority:
    """A certificate authority of this run, and one server certificate it issued for ``hosts``.

    Loopback is always in it; other hosts are the listening host and the names the emulator hands out
    in its URLs (reached through a proxy under test), which a client checks the certificate against.
    """

    def __init__(self, *hosts: str) -> None:
        try:
            import trustme
        except ImportError:
            raise RuntimeError("TLS for the emulator needs the trustme package: "
                               "pip install 'webex-laptop-bot[tls]'") from None
        extra = [h for h in dict.fromkeys(hosts) if h not in (*LOOPBACK_NAMES, *WILDCARD_HOSTS)]
        self._ca = trustme.CA(organization_name="Webex emulator (this run only)")
        self._cert = self._ca.issue_cert(*LOOPBACK_NAMES, *extra)
        self._folder = Path(tempfile.mkdtemp(prefix="webex-emulator-tls-"))
        self.ca_file = str(self._folder / "ca.pem")
        self._ca.cert_pem.write_to_path(self.ca_file)

    def server_pem(self) -> str:
        """A file of the server's private key and certificate chain, for the HTTPS server."""
        path = str(self._folder / "server.pem")
        self._cert.private_key_and_cert_chain_pem.write_to_path(path)
        return path

    def server_context(self) -> ssl.SSLContext:
        """What the HTTPS and websocket servers serve their certificate with."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._cert.configure_cert(context)
        return context

    def remove(self) -> None:
        shutil.rmtree(self._folder, ignore_errors=True)
