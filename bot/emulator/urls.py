"""Where each emulated Webex service lives: all of them are paths under the emulator's one HTTP root.

The routes are declared under these paths and the URLs handed out (``api_url``, U2C's service links,
a device's services, an activity's conversation URL) are made from them, so the two cannot disagree.
The root is known only once the server has its port, so it is read through a callable.
"""
from __future__ import annotations

from typing import Callable

API_PATH = "/v1"
U2C_PATH = "/u2c/api/v1"
WDM_PATH = "/wdm/api/v1"
CONVERSATION_PATH = "/conversation/api/v1"
METRICS_PATH = "/metrics/api/v1"
CONTROL_PATH = "/_emulator"
CHAT_PATH = "/chat"


class Urls:
    """The absolute URLs of the emulator's services, for whoever hands them out."""

    def __init__(self, root: Callable[[], str]) -> None:
        self._root = root

    @property
    def root(self) -> str:
        return self._root()

    @property
    def api(self) -> str:
        """What ``WebexAPI(base_url=...)`` takes: the REST root, with its trailing slash."""
        return f"{self.root}{API_PATH}/"

    @property
    def u2c(self) -> str:
        return f"{self.root}{U2C_PATH}"

    @property
    def u2c_catalog(self) -> str:
        return f"{self.u2c}/catalog"

    @property
    def wdm(self) -> str:
        return f"{self.root}{WDM_PATH}"

    @property
    def conversation(self) -> str:
        return f"{self.root}{CONVERSATION_PATH}"

    @property
    def metrics(self) -> str:
        return f"{self.root}{METRICS_PATH}"

    @property
    def chat(self) -> str:
        return f"{self.root}{CHAT_PATH}"

    def service_links(self) -> dict[str, str]:
        """U2C's ``serviceLinks`` and, as ``<name>ServiceUrl``, a WDM device's ``services``.

        ``metrics`` is there because Cisco's JS SDK looks it up to post its client metrics.
        """
        return {"conversation": self.conversation, "hydra": self.api, "metrics": self.metrics, "u2c": self.u2c,
                "wdm": self.wdm}
