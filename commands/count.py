"""``count``: a counter kept per space, to copy for anything a bot must remember.

``ctx.storage.room`` is a mapping that lasts across restarts. ``update`` changes a value in one step
even when several people count at once: twenty people typing ``count`` together get 1 to 20, each
number once. Reading and then writing (``room["count"] = room.get("count", 0) + 1``) would lose counts
when two handlers run at the same moment.
"""
from bot import command


@command("count")
def count(ctx) -> str:
    """Count one more in this space: `count`"""
    total = ctx.storage.room.update("count", lambda value: value + 1, default=0)
    return f"That makes {total}."
