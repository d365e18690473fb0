"""A local Webex: REST API, webhook delivery, device websocket and a control API for tests.

    with Emulator() as webex:
        bot = webex.control.create_bot("Helper")
        api = WebexAPI(access_token=bot["token"], base_url=webex.api_url)
"""
from .client import ControlClient, ControlError, mention
from .server import Emulator
from .settings import Settings

__all__ = ["ControlClient", "ControlError", "Emulator", "Settings", "mention"]
