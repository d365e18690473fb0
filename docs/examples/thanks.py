"""Answer a phrase rather than a command word: "thanks", "thank you", "thx" anywhere in a message.

Copy it into your ``commands/`` folder. A command word always wins over a phrase, and phrases are
tried in the order they were loaded; ``ctx.match`` is the ``re.Match`` of the pattern.
"""
from bot import hears


@hears(r"\b(thanks|thank you|thx)\b", help="Say thanks and I will answer")
def thanks(ctx) -> str:
    return f"You're welcome! (you said \"{ctx.match.group(1)}\")"
