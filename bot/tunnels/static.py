"""``--tunnel none``: a public URL you serve yourself, with a reverse proxy and a certificate."""
from __future__ import annotations


class StaticUrl:
    """A public URL served by your own reverse proxy (``--tunnel none --public-url``)."""

    name = "none"
    restartable = False

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def start(self, port: int) -> str:
        return self.url

    def alive(self) -> bool:
        return True

    def stop(self) -> None:
        return None
