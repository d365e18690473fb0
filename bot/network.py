"""Networking: the proxy and the trusted authorities of every outbound connection, decided in one place.

A corporate network sets a proxy (the variables, a PAC file, the system's settings) and may inspect
TLS with an authority that only the operating system trusts. Each library the bot uses would read such
settings its own way or not at all (requests: the variables and REQUESTS_CA_BUNDLE; websockets: the
variables and SSL_CERT_FILE; the ngrok agent: its config file), so they are decided here, per URL, and
handed to each explicitly: REST (the SDK's sessions), U2C and WDM, the websocket, the tunnel's probe,
the ngrok agent's ``proxy_url`` and download, and cloudflared's environment.

The proxy for a URL is the first of these that applies:

1. a host on this machine (localhost, 127.x, ::1): none (the tunnel agents' APIs, the receiver);
2. ``NO_PROXY`` covers the host: none;
3. ``BOT_PROXY``: that proxy for everything, or ``direct`` for none;
4. ``BOT_PAC_URL``: what the PAC file answers for the URL's scheme and host (the ``pac`` extra);
5. ``HTTPS_PROXY`` / ``HTTP_PROXY`` / ``ALL_PROXY``, in either case, as curl and requests read them;
6. the system's PAC file (Windows, macOS), when the ``pac`` extra is installed and finds one;
7. none.

Trusted: the operating system's store (through ``truststore`` on macOS and Windows), certifi's, and
``BOT_CA_BUNDLE`` (or ``REQUESTS_CA_BUNDLE``) on top, so an inspecting authority needs to be in only
one of them.
"""
from __future__ import annotations

import base64
import http.client
import ipaddress
import logging
import os
import re
import ssl
import sys
import threading
from typing import TYPE_CHECKING, Any, Optional
from urllib.parse import unquote, urlsplit, urlunsplit

import certifi
import requests
from requests.adapters import HTTPAdapter

from .errors import CertificateError, ConfigError, NetworkRefusal, ProxyRefusal
from .pac import PacFile, fetch_pac, system_pac

if TYPE_CHECKING:
    from .config import Config

log = logging.getLogger(__name__)
DIRECT = "direct"  # BOT_PROXY's word for "no proxy, whatever the variables say"
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
PROXY_VARIABLES = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY")
PROBE_TIMEOUT = 5.0  # seconds to look again at a certificate that failed, to name its issuer
SHORT_NAMES = {"commonName": "CN", "organizationName": "O", "organizationalUnitName": "OU", "countryName": "C",
               "localityName": "L", "stateOrProvinceName": "ST"}  # how certificates' names are usually written
CA_HELP = ("if this network inspects TLS, set BOT_CA_BUNDLE to a PEM file of that authority's certificate "
           "(your IT department has it; REQUESTS_CA_BUNDLE works too) or add it to the system's trust store")


def is_local(host: str) -> bool:
    """Whether ``host`` names this machine: such connections never go through a proxy."""
    name = host.strip("[]").lower()
    if name in ("localhost", "localhost.localdomain") or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def without_credentials(url: str) -> str:
    """A proxy URL fit to print: ``user:password@`` taken out."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    return urlunsplit(parts._replace(netloc=f"{host}:{parts.port}" if parts.port else host))


def credentials_of(url: Optional[str]) -> list[str]:
    """The secrets a proxy URL carries (its password, and the userinfo as it is written), for redaction."""
    if not url:
        return []
    parts = urlsplit(url if "://" in url else f"http://{url}")
    if parts.password is None:
        return []
    userinfo = parts.netloc.rpartition("@")[0]
    return [s for s in {parts.password, unquote(parts.password), userinfo} if s]


def _with_scheme(proxy: str) -> str:
    """``host:port`` as the variables often hold it, as the URL every library takes."""
    return proxy if "://" in proxy else f"http://{proxy}"


def _proxy_scheme(scheme: str) -> str:
    """The scheme proxies are chosen by: a websocket goes as its HTTP twin, as browsers do."""
    return {"wss": "https", "ws": "http"}.get(scheme, scheme)


class _Adapter(HTTPAdapter):
    """Sends each request through the proxy the network picks for its URL, trusting its authorities.

    The session's own proxies, ``verify`` and the variables are not consulted: the decision is made once,
    in ``Network``, for every library alike.
    """

    def __init__(self, network: "Network") -> None:
        self._network = network
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["ssl_context"] = self._network.ssl_context()
        super().init_poolmanager(*args, **kwargs)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        proxy_kwargs.setdefault("ssl_context", self._network.ssl_context())
        if proxy.startswith("https://"):
            proxy_kwargs.setdefault("proxy_ssl_context", self._network.ssl_context())
        return super().proxy_manager_for(proxy, **proxy_kwargs)

    def send(self, request: requests.PreparedRequest, stream: bool = False, timeout: Any = None,
             verify: Any = True, cert: Any = None, proxies: Any = None) -> requests.Response:
        url = request.url or ""
        proxy = self._network.proxy_for(url)
        chosen = {urlsplit(url).scheme: proxy} if proxy else {}
        return super().send(request, stream=stream, timeout=timeout, verify=True, cert=cert, proxies=chosen)


class Network:
    """The proxy and trust decisions of one bot; shared by all its connections (thread-safe)."""

    def __init__(self, *, proxy: Optional[str] = None, pac_url: Optional[str] = None,
                 ca_bundle: Optional[str] = None) -> None:
        self.proxy = proxy if proxy in (None, DIRECT) else _with_scheme(proxy)
        self.pac_url = pac_url
        self.ca_bundle = ca_bundle
        self._lock = threading.Lock()
        self._context: Optional[ssl.SSLContext] = None
        self._pac: Optional[PacFile] = None
        self._pac_loaded = False
        self._decisions: dict[tuple[str, str, Optional[int]], tuple[Optional[str], str]] = {}

    @classmethod
    def from_config(cls, config: "Config") -> "Network":
        return cls(proxy=config.proxy, pac_url=config.pac_url,
                   ca_bundle=config.ca_bundle or os.environ.get("REQUESTS_CA_BUNDLE") or None)

    def prepare(self) -> "Network":
        """Read the PAC file and the CA bundle now, so a wrong setting stops the start with its reason."""
        self.ssl_context()
        self._pac_file()
        return self

    def secrets(self) -> list[str]:
        """Proxy passwords from every place a proxy can be named, so no log line shows them."""
        found = credentials_of(self.proxy if self.proxy != DIRECT else None)
        for name in PROXY_VARIABLES:
            for variable in (name, name.lower()):
                found += credentials_of(os.environ.get(variable))
        return found

    # -- the proxy ---------------------------------------------------------------------------------
    def proxy_for(self, url: str) -> Optional[str]:
        """The proxy URL for a connection to ``url``, or None to connect directly (see the module's rules)."""
        return self._decision(url)[0]

    def source(self, url: str) -> str:
        """Which rule chose the proxy for ``url``: the setting a user would change (for the doctor)."""
        return self._decision(url)[1]

    def _decision(self, url: str) -> tuple[Optional[str], str]:
        parts = urlsplit(url)
        key = (_proxy_scheme(parts.scheme), parts.hostname or "", parts.port)
        with self._lock:
            known = self._decisions.get(key)
        if known is None:
            known = self._decide(*key)
            with self._lock:
                self._decisions[key] = known
        return known

    def _decide(self, scheme: str, host: str, port: Optional[int]) -> tuple[Optional[str], str]:
        if is_local(host):
            return None, "this machine"
        shown_host = f"[{host}]" if ":" in host else host
        probe = f"{scheme}://{shown_host}{f':{port}' if port else ''}/"
        if requests.utils.should_bypass_proxies(probe, no_proxy=None):
            return None, "NO_PROXY"
        if self.proxy is not None:
            return (None if self.proxy == DIRECT else self.proxy), "BOT_PROXY"
        pac = self._pac_file()
        if pac is not None and self.pac_url:
            return pac.proxy(probe, host), "BOT_PAC_URL"
        found = requests.utils.get_environ_proxies(probe)
        if found.get(scheme):
            return _with_scheme(found[scheme]), f"{scheme.upper()}_PROXY"
        if found.get("all"):
            return _with_scheme(found["all"]), "ALL_PROXY"
        if pac is not None:
            return pac.proxy(probe, host), "the system's PAC file"
        return None, "no proxy setting"

    def _pac_file(self) -> Optional[PacFile]:
        """BOT_PAC_URL's file, else (with no proxy variable set) the system's; read once."""
        with self._lock:
            if self._pac_loaded:
                return self._pac
        if self.pac_url:
            pac: Optional[PacFile] = fetch_pac(self.pac_url)
        elif self.proxy is None and not any(os.environ.get(v) or os.environ.get(v.lower()) for v in PROXY_VARIABLES):
            pac = system_pac()
        else:
            pac = None
        with self._lock:
            self._pac, self._pac_loaded = pac, True
        return pac

    # -- trust -------------------------------------------------------------------------------------
    def ssl_context(self) -> ssl.SSLContext:
        """One client context for every TLS connection: the system's store, certifi's and the bundle."""
        with self._lock:
            if self._context is None:
                self._context = self._new_context()
            return self._context

    def _new_context(self) -> ssl.SSLContext:
        """On macOS and Windows the system's store is reached through truststore. Elsewhere OpenSSL's
        default paths are the system's store already, and truststore would add only a lock around every
        handshake of the process (one slow server would hold up every new connection)."""
        if sys.platform in ("darwin", "win32"):
            try:
                import truststore
            except ImportError:
                context = ssl.create_default_context()
            else:
                context = truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        else:
            context = ssl.create_default_context()
        context.load_verify_locations(cafile=certifi.where())
        if self.ca_bundle:
            try:
                context.load_verify_locations(cafile=self.ca_bundle)
            except (OSError, ssl.SSLError) as exc:
                reason = getattr(exc, "strerror", None) or getattr(exc, "reason", None) or exc
                raise ConfigError(f"BOT_CA_BUNDLE (or REQUESTS_CA_BUNDLE) names {self.ca_bundle}, which is not a "
                                  f"readable PEM file of certificates ({reason})") from None
        return context

    def untrusted(self, url: str, reason: str = "") -> CertificateError:
        """The one error for a certificate this machine does not trust: the host, its issuer, the fix."""
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme in ("https", "wss") else 80)
        issuer = self.issuer_of(host, port)
        signed = f"signed by {issuer}" if issuer else "signed by an authority it could not name"
        why = f" ({reason})" if reason else ""
        return CertificateError(f"the TLS certificate of {host}:{port} is {signed}, which this machine does not "
                                f"trust{why}: {CA_HELP}")

    def issuer_of(self, host: str, port: int) -> Optional[str]:
        """Who signed the certificate ``host`` shows, looked at again through the same proxy; None when
        it cannot be seen.

        Python decodes a certificate only once it is verified: the first look takes it unchecked, the
        second trusts exactly that certificate (a partial chain), so ``getpeercert`` names its issuer.
        """
        unverified = ssl.create_default_context()
        unverified.check_hostname = False
        unverified.verify_mode = ssl.CERT_NONE
        try:
            certificate = self._peer_certificate(host, port, unverified, binary=True)
            if not certificate:
                return None
            itself = ssl.create_default_context(cadata=ssl.DER_cert_to_PEM_cert(certificate))
            itself.check_hostname = False
            itself.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
            decoded = self._peer_certificate(host, port, itself, binary=False)
        except (OSError, http.client.HTTPException):
            return None
        names = [f"{SHORT_NAMES.get(key, key)}={value}" for part in decoded.get("issuer", ()) for key, value in part]
        return ",".join(names) or None

    def _peer_certificate(self, host: str, port: int, context: ssl.SSLContext, *, binary: bool) -> Any:
        """The certificate ``host:port`` shows, through the proxy chosen for it (``getpeercert``'s form)."""
        proxy = self.proxy_for(f"https://{host}:{port}/")
        if proxy is None:
            connection = http.client.HTTPSConnection(host, port, timeout=PROBE_TIMEOUT, context=context)
        else:
            parts = urlsplit(proxy)
            connection = http.client.HTTPSConnection(parts.hostname or "", parts.port or 80, timeout=PROBE_TIMEOUT,
                                                     context=context)
            connection.set_tunnel(host, port, headers=_proxy_authorization(proxy))
        try:
            connection.connect()
            assert connection.sock is not None
            return connection.sock.getpeercert(binary_form=binary)
        finally:
            connection.close()

    def problem(self, url: str, exc: BaseException) -> Optional[NetworkRefusal]:
        """The clear error for a failure that retrying cannot mend: an untrusted certificate, or a proxy
        that refuses (403) or wants credentials (407). None for anything else."""
        refused = _find(exc, ssl.SSLCertVerificationError)
        if isinstance(refused, ssl.SSLCertVerificationError):
            return self.untrusted(url, refused.verify_message or "")
        proxy = self.proxy_for(url)
        answer = re.search(r"Tunnel connection failed: (\d{3})([^'\")]*)", str(exc)) if proxy else None
        if proxy and answer and answer.group(1) in ("403", "407"):
            return self.refused(url, int(answer.group(1)), answer.group(2).strip())
        return None

    def refused(self, url: str, status: int, reason: str = "") -> ProxyRefusal:
        """The proxy's ``status`` (403 or 407) for a tunnel to ``url`` as one line that says what to do."""
        proxy = without_credentials(self.proxy_for(url) or "")
        host = urlsplit(url).netloc
        reason = f" {reason}" if reason else ""
        if status == 407:
            return ProxyRefusal(f"the proxy {proxy} wants credentials (407{reason}) to reach {host}: put them in "
                                "the proxy URL, http://user:password@host:port, in BOT_PROXY or HTTPS_PROXY")
        return ProxyRefusal(f"the proxy {proxy} refuses connections to {host} ({status}{reason}): ask for that "
                            "host to be allowed, or add it to NO_PROXY if it can be reached directly")

    # -- handing the decisions to each library -----------------------------------------------------
    def equip(self, session: requests.Session) -> requests.Session:
        """Make ``session`` send through this network's proxies and trust (and nothing else: no .netrc)."""
        session.trust_env = False
        adapter = _Adapter(self)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        return session

    def session(self) -> requests.Session:
        return self.equip(requests.Session())

    def websocket_options(self, url: str) -> dict[str, Any]:
        """Keywords for ``websockets``' ``connect``: the proxy chosen here (None stops the package from
        reading the variables itself) and the trust, for ``wss://``."""
        proxy = self.proxy_for(url)
        options: dict[str, Any] = {"proxy": proxy}
        if url.startswith("wss://"):
            options["ssl"] = self.ssl_context()
        if proxy and proxy.startswith("https://"):
            options["proxy_ssl"] = self.ssl_context()
        return options

    def child_environment(self, url: str) -> dict[str, str]:
        """The environment for a program the bot starts that reaches ``url`` (cloudflared): the proxy
        chosen here in the variables such programs read, and this machine exempt."""
        environment = {k: v for k, v in os.environ.items() if k.upper() not in (*PROXY_VARIABLES, "NO_PROXY")}
        proxy = self.proxy_for(url)
        if proxy:
            environment["HTTPS_PROXY"] = environment["HTTP_PROXY"] = proxy
        exempt = [os.environ.get("NO_PROXY") or os.environ.get("no_proxy") or "", *LOOPBACK_NAMES]
        environment["NO_PROXY"] = ",".join(part for part in exempt if part)
        return environment


def _find(exc: BaseException, kind: type, depth: int = 6) -> Optional[BaseException]:
    """The first ``kind`` among what ``exc`` wraps (requests wraps urllib3, which wraps ssl)."""
    if isinstance(exc, kind):
        return exc
    if depth == 0:
        return None
    inner = [*(a for a in exc.args if isinstance(a, BaseException)), getattr(exc, "reason", None),
             exc.__cause__, exc.__context__]
    for candidate in inner:
        if isinstance(candidate, BaseException):
            found = _find(candidate, kind, depth - 1)
            if found is not None:
                return found
    return None


def _proxy_authorization(proxy: str) -> dict[str, str]:
    """The header a CONNECT through ``proxy`` needs for the credentials its URL carries."""
    parts = urlsplit(proxy)
    if parts.username is None:
        return {}
    pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
    return {"Proxy-Authorization": "Basic " + base64.b64encode(pair).decode()}
