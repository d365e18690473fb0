"""Run the third-party ``webex-bot`` package, unmodified, against the local Webex emulator.

Run it with the python of a virtualenv that has ``webex-bot`` installed (never this project's):

    WEBEX_BOT_TOKEN=<bot token> python webex_bot_driver.py --api-url URL --u2c-url URL [--threads] [--plain-echo]

It points webex-bot at the emulator only through names the package looks up at run time: its U2C
URL and the ``WebexAPI`` class its websocket client builds (given the emulator's ``base_url``). The
emulator serves TLS, as Webex does: the environment makes its certificate authority trusted
(``SSL_CERT_FILE`` for the websocket, ``REQUESTS_CA_BUNDLE`` for REST). Everything else, from
device registration to the replies, is webex-bot's own code, so a failure here is a gap between the
emulator and Webex. ``--plain-echo`` adds a user command, as webex-bot's README shows, so that it can
echo like the other bots bench/peers.py compares (its demo ``echo`` answers with cards).
"""
from __future__ import annotations

import argparse
import functools
import os
import sys
from typing import Any, Optional


def say_command() -> Any:
    """``say <words>``: the words back as plain markdown, with no card and no "working on it" reply first."""
    from webex_bot.models.command import Command

    class SayCommand(Command):
        def __init__(self) -> None:
            # Command's pre_execute answers nothing, and without delete_previous_message nothing is deleted.
            super().__init__(command_keyword="say", help_message="Say the words back, as plain text")

        def execute(self, message: str, attachment_actions: Any, activity: Any) -> str:
            """``message`` is the text after the keyword; a string returned is sent as markdown."""
            return message.strip()

    return SayCommand()


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--api-url", default=os.environ.get("WEBEX_API_URL"),
                        help="the emulator's REST root, e.g. https://127.0.0.1:PORT/v1/")
    parser.add_argument("--u2c-url", default=os.environ.get("WEBEX_U2C_URL"),
                        help="the emulator's U2C catalog URL")
    parser.add_argument("--threads", action="store_true", help="answer in threads (webex-bot's threads=True)")
    parser.add_argument("--plain-echo", action="store_true",
                        help="add a command 'say <words>' that answers with the words, no card")
    args = parser.parse_args(argv)
    token = os.environ.get("WEBEX_BOT_TOKEN", "")
    if not (args.api_url and args.u2c_url and token):
        parser.error("--api-url, --u2c-url and the environment variable WEBEX_BOT_TOKEN are required")

    from webexpythonsdk import WebexAPI

    import webex_bot.websockets.webex_websocket_client as websocket_client
    from webex_bot.webex_bot import WebexBot

    websocket_client.DEFAULT_U2C_URL = args.u2c_url
    websocket_client.WebexAPI = functools.partial(WebexAPI, base_url=args.api_url)

    bot = WebexBot(token, include_demo_commands=True, threads=args.threads)
    if args.plain_echo:
        bot.add_command(say_command())
    bot.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
