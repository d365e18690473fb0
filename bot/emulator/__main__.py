"""``python -m bot.emulator --port 8900``: a local Webex on its own, with a seeded bot and person."""
from __future__ import annotations

import argparse
import logging
import signal
import threading
from typing import Optional

from . import Emulator
from .tls import client_env


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: loopback only)")
    parser.add_argument("--port", type=int, default=8900, help="HTTP port; 0 picks a free one (default: 8900)")
    parser.add_argument("--bot-name", default="Emulator Bot", help="display name of the seeded bot")
    parser.add_argument("--tls", action="store_true",
                        help="serve https:// and wss://, with a certificate authority made for this run")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    with Emulator(host=args.host, port=args.port, tls=args.tls) as emulator:
        control = emulator.control
        bot = control.create_bot(args.bot_name, "emulator-bot@webex.bot")
        person = control.create_person("Ada Lovelace", "ada@example.com")
        direct = control.direct_room(person, bot)
        group = control.create_group("Workshop space", person, [bot])
        print(f"Webex emulator running on {emulator.url}", flush=True)
        print(f"  REST API      WEBEX_API_URL={emulator.api_url}")
        print(f"  U2C catalog   WEBEX_U2C_URL={emulator.u2c_url}")
        print(f"  chat page     {emulator.chat_url}?as={person['id']}")
        print(f"  control API   {emulator.control_url}")
        print(f"  bot           {bot['displayName']} <{bot['emails'][0]}>")
        print(f"  bot token     WEBEX_BOT_TOKEN={bot['token']}")
        print(f"  person        {person['displayName']} id={person['id']}")
        print(f"  rooms         direct={direct['id']}")
        print(f"                group={group['id']}")
        if emulator.ca_file:
            print(f"  CA file       {emulator.ca_file}  (trust it in clients:)")
            for name, value in client_env(emulator.ca_file).items():
                print(f"                {name}={value}")
        print("Press Ctrl-C to stop.", flush=True)
        try:
            stopped.wait()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
