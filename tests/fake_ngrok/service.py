"""The fake agent's route to "ngrok's service" (the FAKE_NGROK_CONNECT test hook), direct or through a proxy.

The real agent dials its service before it has a session, through the HTTP proxy of its config
(`agent.proxy_url`) when there is one, with a CONNECT; when it cannot get there, it says why in Go's
words (`dial tcp: lookup ...: no such host`, `proxyconnect tcp: ...`). A test of a bot behind a
corporate proxy points this hook at a local listener, whose name only the proxy resolves, to see that
the agent takes the proxy route. Kept beside the `ngrok` script, which imports it; stdlib only.
"""
from __future__ import annotations

import base64
import socket
from typing import Optional
from urllib.parse import unquote, urlsplit

TIMEOUT = 5.0  # seconds to reach the service or the proxy, and for the proxy's answer


class Unreachable(Exception):
    """The service could not be reached; the message is the agent's `err`."""


def dial(host: str, port: int) -> socket.socket:
    """A TCP connection, its failure worded as Go's dialer words it."""
    try:
        return socket.create_connection((host, port), timeout=TIMEOUT)
    except socket.gaierror:
        raise Unreachable(f"dial tcp: lookup {host}: no such host") from None
    except ConnectionRefusedError:
        raise Unreachable(f"dial tcp {host}:{port}: connect: connection refused") from None
    except OSError as error:
        raise Unreachable(f"dial tcp {host}:{port}: {error}") from None


def tunnel(proxy_url: str, address: str) -> None:
    """CONNECT to ``address`` through the proxy at ``proxy_url`` (credentials in it become basic
    `Proxy-Authorization`), then close; Unreachable unless the proxy answers 200."""
    proxy, where = urlsplit(proxy_url), proxy_shown(proxy_url)
    headers = f"CONNECT {address} HTTP/1.1\r\nHost: {address}\r\n"
    if proxy.username is not None:
        login = f"{unquote(proxy.username)}:{unquote(proxy.password or '')}".encode()
        headers += f"Proxy-Authorization: Basic {base64.b64encode(login).decode()}\r\n"
    try:
        with dial(proxy.hostname or "", proxy.port or 80) as connection:
            connection.sendall(f"{headers}\r\n".encode())
            with connection.makefile("rb") as answer:
                status = answer.readline().decode("latin-1").split(" ", 2)
    except Unreachable as error:
        raise Unreachable(f"proxyconnect tcp: {error}") from None
    except OSError as error:
        raise Unreachable(f"proxyconnect tcp: {where}: {error}") from None
    if len(status) < 2 or status[1] != "200":
        raise Unreachable(f"proxyconnect tcp: {where}: {' '.join(status[1:]).strip() or 'no answer'}")


def reach(address: str, proxy_url: Optional[str]) -> None:
    """Open a connection to the service at ``address`` (``host:port``) and close it; Unreachable if not."""
    if proxy_url:
        tunnel(proxy_url, address)
    else:
        host, _, port = address.rpartition(":")
        dial(host, int(port)).close()


def proxy_shown(proxy_url: str) -> str:
    """The proxy as the agent's log may show it: ``host:port``, never its credentials."""
    proxy = urlsplit(proxy_url)
    return f"{proxy.hostname}:{proxy.port or 80}"
