"""``notify <email> <text>``: message someone directly, to copy for bots that tell people things.

``ctx.send`` takes a room id or an email (a direct message). When Webex refuses (nobody has that
email, or they cannot be messaged by bots) it logs Webex's error and returns None: the handler
then says so instead of claiming success.
"""
from bot import command


@command("notify")
def notify(ctx, email: str, *text: str) -> str:
    """Send someone a direct message: `notify ada@example.com The build is green`"""
    if "@" not in email or not text:
        return "Usage: `notify <email> <text>`"
    sent = ctx.send(email, f"{' '.join(text)}\n\n(from {ctx.sender_email})")
    return f"Sent to {email}." if sent is not None else f"I could not message {email}."
