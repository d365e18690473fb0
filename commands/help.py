"""``help``: the commands the asker may run, from their names and docstrings."""
import inspect

from bot import command
from bot.arguments import usage


@command("help", aliases=["?"])
def help_command(ctx, name: str = ""):
    """List the commands, or explain one: `help echo`"""
    available = {h.name: h for h in ctx.commands}
    if name:
        chosen = available.get(name.lower()) or next(
            (h for h in available.values() if name.lower() in h.aliases), None)
        if chosen is None:
            return f"There is no command `{name}` you can use. Say `help` for the list."
        text = inspect.cleandoc(chosen.help or chosen.function.__doc__ or "")
        aliases = f"\n\nAlso: {', '.join(f'`{a}`' for a in chosen.aliases)}" if chosen.aliases else ""
        return f"**{chosen.name}**: {text}\n\nUsage: `{usage(chosen.name, chosen.function)}`{aliases}"
    lines = [f"- `{h.name}`: {h.summary}" if h.summary else f"- `{h.name}`" for h in available.values()]
    return "Here is what I can do:\n\n" + "\n".join(lines) + "\n\nSay `help <command>` for more."
