"""The failure both transports report: a one-line reason, and whether retrying can help."""
from __future__ import annotations


class TransientOrPermanent(Exception):
    """``permanent`` when retrying cannot help (a bad token, a missing program, a full device quota)."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent
