"""The plugin authors' kit: the pytest fixtures and the Chat helper, against a bot driven by the SDK."""
from __future__ import annotations

import subprocess
import sys
import time

import pytest
import requests
from webexpythonsdk import WebexAPI

from bot.testing import Chat


def test_fixtures_come_from_the_installed_pytest_plugin(webex_emulator, webex_bot_account, webex_person):
    api = WebexAPI(access_token=webex_bot_account["token"], base_url=webex_emulator.api_url)
    assert api.people.me().id == webex_bot_account["id"]
    assert webex_person["type"] == "person"


def test_chat_in_a_direct_room(webex_emulator, webex_bot_account, webex_person):
    chat = Chat(webex_emulator.control, webex_bot_account, webex_person)
    said = chat.say("echo hi")
    api = WebexAPI(access_token=webex_bot_account["token"], base_url=webex_emulator.api_url)
    assert api.messages.get(said["id"]).text == "echo hi"
    api.messages.create(roomId=chat.room["id"], markdown="**hi**")
    assert chat.reply() == "**hi**"
    with pytest.raises(TimeoutError):
        chat.reply(timeout=0.2)


def test_chat_in_a_group_room_mentions_the_bot(webex_emulator, webex_bot_account, webex_person):
    control = webex_emulator.control
    group = control.create_group("Team", webex_person, [webex_bot_account])
    chat = Chat(control, webex_bot_account, webex_person, room=group)
    said = chat.say("help")
    assert said["mentionedPeople"] == [webex_bot_account["id"]]
    assert said["text"] == "Test Bot help"


def test_the_emulator_runs_as_a_program():
    process = subprocess.Popen([sys.executable, "-m", "bot.emulator", "--port", "0"],
                               stdout=subprocess.PIPE, text=True)
    try:
        banner = [process.stdout.readline() for _ in range(10)]
        url = banner[0].split()[-1]
        token = next(line.split("=", 1)[1].strip() for line in banner if "WEBEX_BOT_TOKEN=" in line)
        api_url = next(line.split("=", 1)[1].strip() for line in banner if "WEBEX_API_URL=" in line)
        api = WebexAPI(access_token=token, base_url=api_url)
        assert api.people.me().displayName == "Emulator Bot"
        assert len(list(api.rooms.list())) == 2
        assert requests.get(f"{url}/_emulator", timeout=5).json()["apiUrl"] == api_url
    finally:
        process.terminate()
        started = time.monotonic()
        assert process.wait(timeout=10) == 0
        assert time.monotonic() - started < 10
