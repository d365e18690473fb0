"""Run the third-party ``webex-bot`` package, unmodified, against the local Webex emulator.

Run it with the python of a virtualenv that has ``webex-bot`` installed (never this project's):

    WEBEX_BOT_TOKEN=<bot token> python webex_bot_driver.py --api-url URL --u2c-url URL

It points webex-bot at the emulator only through names the package looks up at run time: its U2C
URL, the ``WebexAPI`` class its websocket client builds (given the emulator's ``base_url``), and its
TLS context (the emulator serves plain ``ws://``). Everything else, from device registration to the
replies, is webex-bot's own code, so a failure here is a gap between the emulator and Webex.
"""
from __future__ import annotations

import argparse
import functools
import os
import sys
from typing import Optional


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--api-url", default=os.environ.get("WEBEX_API_URL"),
                        help="the emulator's REST root, e.g. http://127.0.0.1:PORT/v1/")
    parser.add_argument("--u2c-url", default=os.environ.get("WEBEX_U2C_URL"),
                        help="the emulator's U2C catalog URL")
    args = parser.parse_args(argv)
    token = os.environ.get("WEBEX_BOT_TOKEN", "")
    if not (args.api_url and args.u2c_url and token):
        parser.error("--api-url, --u2c-url and the environment variable WEBEX_BOT_TOKEN are required")

    from webexpythonsdk import WebexAPI

    import webex_bot.websockets.webex_websocket_client as websocket_client
    from webex_bot.webex_bot import WebexBot

    websocket_client.DEFAULT_U2C_URL = args.u2c_url
    websocket_client.WebexAPI = functools.partial(WebexAPI, base_url=args.api_url)
    websocket_client.ssl_context = None

    WebexBot(token, include_demo_commands=True, threads=False).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
