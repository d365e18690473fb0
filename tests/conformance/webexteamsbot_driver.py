"""Run the third-party ``webexteamsbot`` package, unmodified, against the local Webex emulator.

Run it with the python of a virtualenv that has ``webexteamsbot`` installed (never this project's):

    WEBEX_BOT_TOKEN=<bot token> python webexteamsbot_driver.py --api-url URL --email E --port N

It is pointed at the emulator only by configuration: ``teams_api_url`` for its SDK client (webexteamssdk
1.7 reads no base-URL variable) and ``teams_bot_url``, the loopback address the webhook it registers
targets. Its built-in ``/echo`` and ``/help`` are the commands under test.
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Optional


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--api-url", required=True, help="the emulator's REST root, e.g. http://127.0.0.1:PORT/v1/")
    parser.add_argument("--email", required=True, help="the bot account's email")
    parser.add_argument("--port", type=int, required=True, help="the loopback port the webhook server listens on")
    args = parser.parse_args(argv)
    token = os.environ.get("WEBEX_BOT_TOKEN", "")
    if not token:
        parser.error("the environment variable WEBEX_BOT_TOKEN is required")

    from webexteamsbot import TeamsBot

    bot = TeamsBot("conformance-webexteamsbot", teams_bot_token=token, teams_api_url=args.api_url,
                   teams_bot_email=args.email, teams_bot_url=f"http://127.0.0.1:{args.port}/")
    bot.run(host="127.0.0.1", port=args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
