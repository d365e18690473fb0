"""Run the third-party ``webexteamsbot`` package, unmodified, against the local Webex emulator.

Run it with the python of a virtualenv that has ``webexteamsbot`` installed (never this project's):

    WEBEX_BOT_TOKEN=<bot token> python webexteamsbot_driver.py --api-url URL --email E --port N

It is pointed at the emulator only by configuration: ``teams_api_url`` for its SDK client (webexteamssdk
1.7 reads no base-URL variable) and ``teams_bot_url``, the loopback address the webhooks it registers
target. Its built-in ``/echo`` and ``/help`` are commands under test, and so are cards, set up the way
its README ("listen for multiple different events") says:

* ``webhook_resource_event`` makes ``TeamsBot.setup_webhook`` register two webhooks, ``<name>.messages.created``
  and ``<name>.attachmentActions.created``;
* ``/card`` (``add_command``) answers with a ``webexteamsbot.models.Response`` that carries an Adaptive
  Card in ``attachments``; webexteamsbot posts it with its own client;
* ``add_command("attachmentActions", "*", callback)`` handles the submit: for a delivery whose
  ``resource`` is not ``messages``, ``TeamsBot.process_incoming_message`` calls
  ``commands[resource.lower()]["callback"](api, post_data)`` and posts what it returns (markdown) with
  its own client to ``data.roomId``. The callback reads the submit with ``api.attachment_actions.get``
  and answers with the card's inputs.

What is wrapped, and why: only that ``attachmentActions`` callback, by ``on_emulator``. webexteamsbot
builds the ``api`` it hands the callback as ``WebexTeamsAPI(access_token=teams_bot_token)``, without
the ``teams_api_url`` it was given, so that client would call the real Webex
(``https://webexapis.com/v1/``). ``on_emulator`` drops that argument and gives the callback an
identical client on the emulator's base URL instead; nothing else is replaced. (``teams_setup`` also
builds a real-Webex client, ``globals()["teams"]``, but never calls it.)
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Callable, Optional

CARD_TYPE = "application/vnd.microsoft.card.adaptive"
CARD = {
    "type": "AdaptiveCard", "version": "1.2",
    "body": [{"type": "TextBlock", "text": "What should I call you?"},
             {"type": "Input.Text", "id": "name", "placeholder": "your name"},
             {"type": "Input.ChoiceSet", "id": "color", "value": "blue",
              "choices": [{"title": "Blue", "value": "blue"}, {"title": "Green", "value": "green"}]}],
    "actions": [{"type": "Action.Submit", "title": "Send", "data": {"form": "greeting"}}],
}


def post_card(message: Any) -> Any:
    """``/card``: a message with the card; ``markdown`` is the fallback a card message needs."""
    from webexteamsbot.models import Response

    response = Response()
    response.markdown = "Fill in the card, please."
    response.attributes["attachments"] = [{"contentType": CARD_TYPE, "content": CARD}]  # Response has no setter
    return response


def answer_card(api: Any, incoming: dict[str, Any]) -> str:
    """The ``attachmentActions`` callback as the README writes it: read the submit, answer with its inputs."""
    action = api.attachment_actions.get(incoming["data"]["id"])
    sys.stderr.write(f"Card submit {action.id} on {action.messageId}: {json.dumps(action.inputs)}\n")
    return (f"Card from {action.personId} on {action.messageId}: "
            f"{json.dumps(action.inputs, sort_keys=True)}")


def on_emulator(callback: Callable[[Any, dict[str, Any]], Any], token: str,
                api_url: str) -> Callable[[Any, dict[str, Any]], Any]:
    """``callback`` with the real-Webex client webexteamsbot hands it replaced by one on ``api_url``."""
    from webexteamssdk import WebexTeamsAPI

    def wrapped(_real_webex_api: Any, incoming: dict[str, Any]) -> Any:
        return callback(WebexTeamsAPI(access_token=token, base_url=api_url), incoming)

    return wrapped


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
                   teams_bot_email=args.email, teams_bot_url=f"http://127.0.0.1:{args.port}/",
                   webhook_resource_event=[{"resource": "messages", "event": "created"},
                                           {"resource": "attachmentActions", "event": "created"}])
    bot.add_command("/card", "Post a card to fill in.", post_card)
    bot.add_command("attachmentActions", "*", on_emulator(answer_card, token, args.api_url))
    bot.run(host="127.0.0.1", port=args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
