"""``title <url>``: fetch a web page and answer its ``<title>``.

An example to copy for any command that calls out to the web. It shows the four things such a
command needs: a timeout (a handler that hangs holds one of the bot's workers), a size cap (a
link to a 4 GB file must not fill the laptop's memory), a check of what came back (not every URL
is a web page), and one clear sentence for each way it can fail, never a traceback in the chat.

Mind who may use it: the bot runs inside your firewall, so whoever can message it can make it
fetch pages of your intranet. Limit it, e.g. ``@command("title", domains=["example.com"])``.
"""
import time
from typing import Optional, Union
from urllib.parse import urlparse

import requests
from bs4 import BeautifulSoup

from bot import Reply, command

TIMEOUT = 10  # seconds: for connecting, and for the whole download
MAX_BYTES = 2 * 1024 * 1024  # read at most this much of a page; the <title> is near the top
HEADERS = {
    # Some sites refuse requests without a User-Agent; saying who we are is polite.
    "User-Agent": "webex-laptop-bot/0.1 (title command)",
    "Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1",
}
HTML_TYPES = ("text/html", "application/xhtml+xml")


class FetchError(Exception):
    """Something went wrong; the message is the sentence the person sees in the chat."""


@command("title")
def title(ctx, url: str) -> Union[str, Reply]:
    """Show the title of a web page: `title https://www.python.org`"""
    url = url.strip("<>")  # some clients wrap pasted links in angle brackets
    if "://" not in url:
        url = "https://" + url  # people type "example.org"; assume the secure scheme
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        return f"I can only fetch web pages (http:// or https://), not `{url}`."
    try:
        found = page_title(url)
    except FetchError as problem:
        return str(problem)
    if found is None:
        return f"The page at {url} has no title."
    # The title is someone else's words: sent as plain text, so it cannot format or @mention anything.
    return Reply(text=found)


def page_title(url: str) -> Optional[str]:
    """The ``<title>`` of the HTML page at ``url`` (None when it has none); FetchError otherwise."""
    host = urlparse(url).hostname
    try:
        # stream=True: the headers arrive first, so a non-HTML or huge response is never downloaded.
        with requests.get(url, headers=HEADERS, timeout=TIMEOUT, stream=True) as response:
            if response.status_code >= 400:
                raise FetchError(f"{url} answered HTTP {response.status_code} {response.reason or ''}".rstrip()
                                 + ".")
            kind = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
            if kind not in HTML_TYPES:
                raise FetchError(f"{url} is not a web page (it is {kind or 'of an unknown type'}), so it has "
                                 "no title.")
            body = _read_capped(response)
            # The charset from the header when the server sent one; else BeautifulSoup reads the page's
            # own <meta charset> (requests' guess for text/html without one is a poor Latin-1).
            declared = response.encoding if "charset" in response.headers.get("Content-Type", "") else None
    except requests.Timeout:
        raise FetchError(f"{host} did not answer within {TIMEOUT} seconds.") from None
    except requests.exceptions.SSLError:
        raise FetchError(f"I could not verify the HTTPS certificate of {host}.") from None
    except requests.ConnectionError as error:
        raise FetchError(_connection_problem(host, error)) from None
    except requests.TooManyRedirects:
        raise FetchError(f"{url} redirects too many times.") from None
    except requests.RequestException as error:  # an invalid URL, a redirect to ftp://, ...
        raise FetchError(f"I could not fetch {url} ({type(error).__name__}).") from None

    soup = BeautifulSoup(body, "html.parser", from_encoding=declared)
    if soup.title is None or not soup.title.get_text(strip=True):
        return None
    text = " ".join(soup.title.get_text().split())  # titles often span lines
    return text if len(text) <= 300 else text[:299] + "…"


def _read_capped(response: requests.Response) -> bytes:
    """At most MAX_BYTES of the body, within TIMEOUT seconds in all (a slow trickle ends too)."""
    deadline = time.monotonic() + TIMEOUT
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(chunk_size=64 * 1024):
        chunks.append(chunk)
        size += len(chunk)
        if size >= MAX_BYTES or time.monotonic() > deadline:
            break
    return b"".join(chunks)[:MAX_BYTES]


def _connection_problem(host: Optional[str], error: Exception) -> str:
    """Tell "no such host" (a typo, or offline) from "nobody answers there"."""
    reason = error
    while reason.__context__ is not None:  # requests wraps urllib3, which wraps the socket error
        reason = reason.__context__
    if "NameResolution" in repr(error) or "gaierror" in type(reason).__name__:
        return f"I could not find {host}: check the address, or this machine may be offline."
    if isinstance(reason, ConnectionRefusedError) or "refused" in str(error).lower():
        return f"{host} refused the connection: nothing serves that address."
    return f"I could not reach {host}: this machine may be offline."
