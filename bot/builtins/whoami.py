"""``whoami``: the ids a workshop participant needs to configure access rules."""
from bot import command


@command("whoami", help="Show your person id, email and this room's id")
def whoami(ctx):
    return (f"- email: `{ctx.sender_email}`\n"
            f"- person id: `{ctx.sender_id}`\n"
            f"- room id: `{ctx.room_id}` ({ctx.room_type or 'unknown'} room)")
