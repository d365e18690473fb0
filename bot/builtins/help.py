"""``help``: the commands the asker may run, from their names and docstrings."""
from bot import Context, command


@command("help", aliases=["?"])
def help_command(ctx: Context, name: str = "") -> str:
    """List the commands, or explain one: `help echo`"""
    commands = [c for c in ctx.commands if c.kind == "command"]
    phrases = [c for c in ctx.commands if c.kind == "hears"]
    if name:
        wanted = name.lower()
        chosen = next((c for c in commands if wanted == c.name or wanted in c.aliases), None)
        if chosen is None:
            return f"There is no command `{name}` you can use. Say `help` for the list."
        aliases = f"\n\nAlso: {', '.join(f'`{a}`' for a in chosen.aliases)}" if chosen.aliases else ""
        return f"**{chosen.name}**: {chosen.help}\n\nUsage: `{chosen.usage}`{aliases}"
    lines = [f"- `{c.name}`: {c.summary}" if c.summary else f"- `{c.name}`" for c in commands]
    heard = "".join(f"\n- {c.summary}" for c in phrases)
    also = f"\n\nI also listen for:{heard}" if heard else ""
    return "Here is what I can do:\n\n" + "\n".join(lines) + also + "\n\nSay `help <command>` for more."
