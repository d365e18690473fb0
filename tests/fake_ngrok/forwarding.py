"""The public side of a fake ngrok tunnel: a request in, the same request to the upstream, its answer out.

Kept beside the `ngrok` script, which imports it; stdlib only, like the script.
"""
from __future__ import annotations

import http.client
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
              "transfer-encoding", "upgrade"}
UPSTREAM_TIMEOUT = 30


def parse_upstream(addr: str) -> tuple[str, int, str]:
    """Accept each form ngrok takes for an upstream: 8080, localhost:8080, http://localhost:8080."""
    if addr.isdigit():
        addr = f"localhost:{addr}"
    parts = urlsplit(addr if "://" in addr else f"http://{addr}")
    try:
        port = parts.port or 80
    except ValueError as error:
        raise ValueError(f"invalid upstream address {addr!r}: {error}") from None
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"the fake agent forwards to http upstreams only, not {addr!r}")
    return parts.hostname, port, f"http://{parts.hostname}:{port}"


def read_body(rfile: Any, headers: Any) -> bytes:
    """The exact request body, de-chunked when the client streamed it."""
    if "chunked" not in headers.get("Transfer-Encoding", "").lower():
        return rfile.read(int(headers.get("Content-Length") or 0))
    chunks = []
    while True:
        size = int(rfile.readline().split(b";")[0].strip() or b"0", 16)
        if size == 0:
            break
        chunks.append(rfile.read(size))
        rfile.readline()
    while rfile.readline() not in (b"\r\n", b"\n", b""):
        pass  # trailers
    return b"".join(chunks)


class ProxyHandler(BaseHTTPRequestHandler):
    """A tunnel's public side: each request goes to the upstream byte for byte, answer included.

    Its server carries `tunnel` (name, host, port, requests) and `agent` (record(**event)).
    """

    def log_message(self, format: str, *args: Any) -> None:
        """Silenced: FAKE_NGROK_LOG records each forwarded request."""

    def do_GET(self) -> None:
        tunnel = self.server.tunnel  # type: ignore[attr-defined]
        body = read_body(self.rfile, self.headers)
        forwarded_for = ", ".join(filter(None, [self.headers.get("X-Forwarded-For"), self.client_address[0]]))
        drop = HOP_BY_HOP | {"content-length", "x-forwarded-for", "x-forwarded-proto"}
        headers = [(key, value) for key, value in self.headers.items() if key.lower() not in drop]
        if body or self.command in ("POST", "PUT", "PATCH"):
            headers.append(("Content-Length", str(len(body))))
        headers += [("X-Forwarded-For", forwarded_for), ("X-Forwarded-Proto", "https")]
        connection = http.client.HTTPConnection(tunnel.host, tunnel.port, timeout=UPSTREAM_TIMEOUT)
        try:
            connection.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for key, value in headers:
                connection.putheader(key, value)
            connection.endheaders(body)
            response = connection.getresponse()
            payload = response.read()
        except (OSError, http.client.HTTPException) as error:
            self._bad_gateway(tunnel, error)
            return
        finally:
            connection.close()
        tunnel.requests += 1
        self.server.agent.record(kind="forward", tunnel=tunnel.name, method=self.command,  # type: ignore[attr-defined]
                                 path=self.path, status=response.status, bytes=len(body))
        self.send_response_only(response.status, response.reason)
        for key, value in response.getheaders():
            if key.lower() not in HOP_BY_HOP:
                self.send_header(key, value)
        if response.getheader("Content-Length") is None and self.command != "HEAD":
            self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def _bad_gateway(self, tunnel: Any, error: BaseException) -> None:
        """What ngrok's edge answers when the agent cannot reach the upstream."""
        self.server.agent.record(kind="forward", tunnel=tunnel.name, method=self.command,  # type: ignore[attr-defined]
                                 path=self.path, status=502, error=str(error))
        page = (f"<!DOCTYPE html><html><body><p>Traffic was successfully tunneled to the ngrok agent, but the "
                f"agent failed to establish a connection to the upstream web service at {tunnel.host}:{tunnel.port}."
                f" The error encountered was: {error}</p><p>ERR_NGROK_8012</p></body></html>").encode()
        self.send_response(502)
        self.send_header("Content-Type", "text/html")
        self.send_header("Ngrok-Error-Code", "ERR_NGROK_8012")
        self.send_header("Content-Length", str(len(page)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(page)
