"""Fixtures shared by the test modules."""
from __future__ import annotations

from typing import Any, Iterator

import pytest

from bot.emulator import ControlClient, Emulator


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    """A fresh local Webex per test, so no test sees another's people, rooms, calls or faults."""
    with Emulator() as webex:
        yield webex


@pytest.fixture
def control(emulator: Emulator) -> ControlClient:
    return emulator.control


@pytest.fixture
def bot(control: ControlClient) -> dict[str, Any]:
    """A bot named Helper; its ``token`` is what the bot under test runs with."""
    return control.create_bot("Helper", "helper@webex.bot")


@pytest.fixture
def person(control: ControlClient) -> dict[str, Any]:
    return control.create_person("Ada Lovelace", "ada@example.com")
