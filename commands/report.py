"""``report``: make a CSV file and send it into the chat.

An example to copy for commands that answer with a file. Write the file into a temporary folder,
send it with ``ctx.reply(file(path, markdown=...))`` (the bot uploads it to Webex as multipart, up
to 100 MB), then let the folder go. ``ctx.reply()`` sends at once, so the file can be deleted right
after; a ``file(...)`` that the handler *returned* would be sent only after the handler ended,
when the temporary folder is already gone.
"""
import csv
import tempfile
from datetime import date
from pathlib import Path

from bot import command, file


@command("report")
def report(ctx) -> None:
    """Send a CSV file listing the commands you can use"""
    header = ["command", "aliases", "description"]
    rows = [[h.name, " ".join(h.aliases), h.summary] for h in ctx.commands]
    # The file name is what people see in Webex, so make it a good one (not tmpk3j4h.csv).
    with tempfile.TemporaryDirectory(prefix="webex-bot-report-") as folder:
        path = Path(folder) / f"commands-{date.today().isoformat()}.csv"
        with path.open("w", newline="", encoding="utf-8") as out:  # newline="": the csv module's own
            writer = csv.writer(out)
            writer.writerow(header)
            writer.writerows(rows)
        ctx.reply(file(path, markdown=f"Here is your report: {len(rows)} commands."))
    # Leaving the "with" removed the folder and the file; nothing to return.
