"""Fixtures shared by the test modules."""
from __future__ import annotations

from typing import Iterator

import pytest

from bot.emulator import Emulator


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    """A fresh local Webex per test, so no test sees another's people, rooms, calls or faults."""
    with Emulator() as webex:
        yield webex
