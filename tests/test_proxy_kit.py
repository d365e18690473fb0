"""The proxy kit and the emulator's advertised names together, for real: a TLS emulator whose URLs
name hosts only squid resolves, reached through squid as a bot behind a corporate proxy reaches Webex.

Each test starts its own squid (it starts in a few tens of ms); the emulator is one per test too.
"""
from __future__ import annotations

import json
import ssl
from typing import Any, Callable, Iterator

import pytest
import requests
from websockets.exceptions import InvalidProxyStatus
from websockets.sync.client import connect

from bot.emulator import Emulator
from proxy_kit import Entry, Squid
from proxy_kit import squids  # noqa: F401 (a fixture, used by name)

pytest.importorskip("trustme")

API_HOST, MERCURY_HOST = "api.webex.test", "mercury.webex.test"
HOSTS = {API_HOST: "127.0.0.1", MERCURY_HOST: "127.0.0.1"}
DEVICE = {"deviceName": "proxy-test", "deviceType": "DESKTOP", "localizedModel": "python", "model": "python",
          "name": "proxy-test", "systemName": "proxy-test", "systemVersion": "1"}
Json = dict[str, Any]


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(tls=True, public_host=API_HOST, websocket_host=MERCURY_HOST) as running:
        yield running


@pytest.fixture
def bot(emulator: Emulator) -> Json:
    return emulator.control.create_bot("Proxy Bot")


def through(proxy: str, emulator: Emulator, bot: Json, method: str, url: str, **options: Any) -> requests.Response:
    """One call as the bot makes it behind ``proxy``, nothing taken from this process's environment, on a
    connection the emulator closes after it: squid logs a tunnel only once it has ended."""
    with requests.Session() as session:
        session.trust_env = False
        return session.request(method, url, proxies={"https": proxy}, verify=emulator.ca_file, timeout=10,
                               headers={"Authorization": f"Bearer {bot['token']}", "Connection": "close"},
                               **options)


def tunnel_to(host: str, port: int, code: str = "TCP_TUNNEL/200") -> Callable[[Entry], bool]:
    return lambda entry: entry.method == "CONNECT" and entry.target == f"{host}:{port}" and entry.code == code


def register_device(proxy: str, emulator: Emulator, bot: Json) -> Json:
    """U2C's catalog, then a device at the WDM it names, both through ``proxy``."""
    catalog = through(proxy, emulator, bot, "GET", emulator.u2c_url, params={"format": "hostmap"}).json()
    response = through(proxy, emulator, bot, "POST", f"{catalog['serviceLinks']['wdm']}/devices", json=DEVICE)
    assert response.status_code == 200, response.text
    return response.json()


def trusting(emulator: Emulator) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=emulator.ca_file)


def test_every_url_names_the_public_hosts_and_the_control_api_stays_local(emulator: Emulator) -> None:
    assert emulator.url == f"https://{API_HOST}:{emulator.port}"
    assert emulator.api_url.startswith(emulator.url) and emulator.u2c_url.startswith(emulator.url)
    assert emulator.ws_url.startswith(f"wss://{MERCURY_HOST}:") and emulator.store.base_url == emulator.url
    assert emulator.chat_url.startswith(emulator.url)
    assert emulator.local_url == f"https://127.0.0.1:{emulator.port}"
    assert emulator.control_url.startswith(emulator.local_url)
    assert emulator.control.create_person("Local Alice")["displayName"] == "Local Alice"


def test_rest_goes_through_the_proxy_and_the_direct_route_is_closed(squids: Callable[..., Squid],
                                                                     emulator: Emulator, bot: Json) -> None:
    squid = squids(hosts=HOSTS)
    me = through(squid.url, emulator, bot, "GET", emulator.api_url + "people/me")
    assert (me.status_code, me.json()["displayName"]) == (200, "Proxy Bot")
    squid.wait_for(tunnel_to(API_HOST, emulator.port), "the CONNECT to the API")

    with requests.Session() as direct, pytest.raises(requests.exceptions.ConnectionError,
                                                    match=f"Failed to resolve '{API_HOST}'"):
        direct.trust_env = False
        direct.get(emulator.api_url + "people/me", verify=emulator.ca_file, timeout=10)


def test_a_device_websocket_opens_through_the_proxy(squids: Callable[..., Squid], emulator: Emulator,
                                                    bot: Json) -> None:
    squid = squids(hosts=HOSTS)
    device = register_device(squid.url, emulator, bot)
    assert device["webSocketUrl"].startswith(emulator.ws_url + "/")
    assert device["services"]["conversationServiceUrl"].startswith(emulator.url)
    with connect(device["webSocketUrl"], proxy=squid.url, ssl=trusting(emulator), open_timeout=10,
                 additional_headers={"Authorization": f"Bearer {bot['token']}"}) as websocket:
        websocket.send(json.dumps({"id": "auth", "type": "authorization",
                                   "data": {"token": f"Bearer {bot['token']}"}}))
        ready = json.loads(websocket.recv(timeout=10))
    assert ready["data"]["eventType"] == "mercury.buffer_state"
    mercury_port = int(emulator.ws_url.rsplit(":", 1)[1])
    squid.wait_for(tunnel_to(MERCURY_HOST, mercury_port), "the CONNECT to Mercury")


def test_a_refused_connect_is_a_proxy_error_and_rest_still_works(squids: Callable[..., Squid],
                                                                  emulator: Emulator, bot: Json) -> None:
    squid = squids(hosts=HOSTS, refuse_connect=[MERCURY_HOST])
    device = register_device(squid.url, emulator, bot)
    with pytest.raises(InvalidProxyStatus) as refused:
        connect(device["webSocketUrl"], proxy=squid.url, ssl=trusting(emulator), open_timeout=10)
    assert refused.value.response.status_code == 403
    mercury_port = int(emulator.ws_url.rsplit(":", 1)[1])
    squid.wait_for(tunnel_to(MERCURY_HOST, mercury_port, "TCP_DENIED/403"), "the refused CONNECT")
    assert through(squid.url, emulator, bot, "GET", emulator.api_url + "people/me").status_code == 200


def test_proxy_credentials_are_required_and_logged(squids: Callable[..., Squid], emulator: Emulator,
                                                   bot: Json) -> None:
    squid = squids(hosts=HOSTS, credentials=("ann", "pa:ss@word"))
    anonymous = squid.url.replace("ann:pa%3Ass%40word@", "")
    with pytest.raises(requests.exceptions.ProxyError, match="407"):
        through(anonymous, emulator, bot, "GET", emulator.api_url + "people/me")
    assert through(squid.url, emulator, bot, "GET", emulator.api_url + "people/me").status_code == 200
    denied = squid.wait_for(tunnel_to(API_HOST, emulator.port, "TCP_DENIED/407"), "the CONNECT without a login")
    allowed = squid.wait_for(tunnel_to(API_HOST, emulator.port), "the CONNECT with a login")
    assert (denied.user, allowed.user) == ("-", "ann")
