"""``poll "Question?" option1 option2 ...``: a poll as an Adaptive Card, and its votes.

An example to copy for commands that post a card and handle what people submit on it:

- the command replies with ``card(...)``; the card's ``Action.Submit`` carries
  ``{"action": "poll_vote", "poll": "<id>"}`` in its ``data``;
- when someone presses "Vote", Webex sends the card's inputs together with that ``data``; the bot
  calls the ``@card_action("poll_vote")`` handler with them in ``ctx.inputs``.

``poll results`` shows the latest poll of the room again, ``poll results <id>`` a given one.
"""
import itertools
import threading
from dataclasses import dataclass, field
from typing import Any, Optional, Union

from bot import Reply, card, card_action, command

MAX_OPTIONS = 10


@dataclass
class Poll:
    id: str
    question: str
    options: list[str]
    room_id: str
    votes: dict[str, int] = field(default_factory=dict)  # person id -> index of the chosen option

    def results(self) -> str:
        """The counts per option, as markdown."""
        counts = [0] * len(self.options)
        for choice in self.votes.values():
            counts[choice] += 1
        total = len(self.votes)
        lines = [f"- {option}: **{count}**" for option, count in zip(self.options, counts)]
        return (f"Poll {self.id}: **{self.question}** ({total} vote{'s' * (total != 1)})\n\n"
                + "\n".join(lines))


class Polls:
    """The polls this bot process knows about, safe to use from several handlers at once.

    Handlers run on several worker threads, so two votes can arrive at the same moment: the lock
    makes each change whole. The polls live in this process's memory only: a restart forgets them
    (a vote on an older card then gets a polite answer), and two instances of the bot (say, a
    laptop and a server) each have their own. Keep them in a database if that matters to you.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._polls: dict[str, Poll] = {}
        self._numbers = itertools.count(1)

    def create(self, question: str, options: list[str], room_id: str) -> Poll:
        with self._lock:
            poll = Poll(str(next(self._numbers)), question, options, room_id)
            self._polls[poll.id] = poll
            return poll

    def vote(self, poll_id: str, person_id: str, choice: int) -> Optional[str]:
        """Record (or change) one person's vote; the results after it, or None for an unknown poll."""
        with self._lock:
            poll = self._polls.get(poll_id)
            if poll is None:
                return None
            poll.votes[person_id] = choice  # one vote per person: voting again replaces it
            return poll.results()

    def results(self, room_id: str, poll_id: str = "") -> Optional[str]:
        """The results of a poll of this room (the latest one when no id is given)."""
        with self._lock:
            mine = [p for p in self._polls.values() if p.room_id == room_id]
            chosen = next((p for p in mine if p.id == poll_id), None) if poll_id else (mine[-1] if mine else None)
            return chosen.results() if chosen is not None else None

    def options(self, poll_id: str) -> list[str]:
        with self._lock:
            poll = self._polls.get(poll_id)
            return list(poll.options) if poll is not None else []


# One instance for the whole process: the command and the card action below both use it.
POLLS = Polls()


@command("poll")
def poll(ctx, question: str, *options: str) -> Union[str, Reply]:
    """Start a poll: `poll "Where do we eat?" pizza sushi salad`; `poll results` shows the votes"""
    if question.lower() == "results" and len(options) <= 1:
        found = POLLS.results(ctx.room_id, options[0] if options else "")
        return found or "There is no such poll in this room. Start one with `poll \"Question?\" yes no`."
    choices = list(dict.fromkeys(options))  # drop repeated options, keep the order
    if not 2 <= len(choices) <= MAX_OPTIONS:
        return (f"A poll needs a question and 2 to {MAX_OPTIONS} options, e.g. "
                "`poll \"Where do we eat?\" pizza sushi salad` (quote what has spaces).")
    new = POLLS.create(question, choices, ctx.room_id)
    return card(poll_card(new), fallback=f"Poll: {question} (open it in a Webex app to vote)")


def poll_card(poll: Poll) -> dict[str, Any]:
    """The Adaptive Card of a poll (try it in https://adaptivecards.io/designer)."""
    return {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": "1.3",
        "body": [
            {"type": "TextBlock", "text": poll.question, "size": "Medium", "weight": "Bolder", "wrap": True},
            {"type": "Input.ChoiceSet", "id": "choice", "style": "expanded", "isRequired": True,
             "errorMessage": "Pick one option",
             # The values are the option numbers: short, and the same however the option is spelt.
             "choices": [{"title": option, "value": str(n)} for n, option in enumerate(poll.options)]},
        ],
        "actions": [
            # "action" names the @card_action that handles the submit; "poll" says which poll it is.
            {"type": "Action.Submit", "title": "Vote", "data": {"action": "poll_vote", "poll": poll.id}},
        ],
    }


@card_action("poll_vote")
def poll_vote(ctx) -> Union[str, Reply, None]:
    """Someone pressed "Vote": record it and show the results so far."""
    poll_id = str(ctx.inputs.get("poll", ""))
    options = POLLS.options(poll_id)
    if not options:
        return Reply(markdown="That poll is from before my last restart, so I no longer have it. "
                              "Start a new one with `poll`.", direct=True)
    try:
        choice = int(ctx.inputs.get("choice", ""))
    except ValueError:
        choice = -1
    if not 0 <= choice < len(options):
        return Reply(markdown="Pick one of the options before you vote.", direct=True)
    return POLLS.vote(poll_id, ctx.sender_id, choice)
