"""Messages as Webex renders and keeps them, through webexpythonsdk against the emulator: markdown into
html and plain text (mentions kept), files posted by URL fetched into ``/v1/contents``, replies to
replies under both readings of Webex, and the edit and direct-list operations. Every answer is checked
against Webex's OpenAPI spec (``answers_conform``)."""
from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests

from bot.emulator.rest import contents
from bot.mentions import command_text
from emulator_rest_kit import CARD, World, api_error, sdk
from emulator_rest_kit import answers_conform, openapi, world  # noqa: F401 (fixtures, used by name)

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8
# The spec's example markdown for POST /messages.
SPEC_MARKDOWN = ("**PROJECT UPDATE** A new project plan has been published [on Box](http://box.com/s/lf5vj). "
                 "The PM for this project is <@personEmail:mike@example.com> and the Engineering Manager is "
                 "<@personEmail:jane@example.com>.")


class Files(BaseHTTPRequestHandler):
    """A public web server with one picture at /media.png; anything else is 404."""

    def do_GET(self) -> None:
        if self.path != "/media.png":
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(PNG)))
        self.end_headers()
        self.wfile.write(PNG)

    def log_message(self, *args: Any) -> None:
        """Quiet: the test output is for failures."""


@pytest.fixture
def web() -> Iterator[str]:
    """The base URL of a tiny local web server holding ``/media.png``."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Files)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join(5)


def download(world: World, url: str) -> requests.Response:
    return requests.get(url, headers={"Authorization": f"Bearer {world.bot['token']}"}, timeout=10)


# -- markdown ---------------------------------------------------------------------------------------
def test_the_spec_example_markdown_becomes_html_and_plain_text(world: World) -> None:
    mike = world.control.create_person("Mike C.", email="mike@example.com")
    world.control.create_group("Plan", world.alice, [mike, world.bot])
    posted = world.api.messages.create(roomId=world.group["id"], markdown=SPEC_MARKDOWN)
    assert posted.html.startswith("<p><strong>PROJECT UPDATE</strong> A new project plan has been published "
                                  '<a href="http://box.com/s/lf5vj" rel="nofollow">on Box</a>.')
    assert f'<spark-mention data-object-type="person" data-object-id="{mike["id"]}">Mike C.</spark-mention>' \
        in posted.html
    assert posted.text == ("PROJECT UPDATE A new project plan has been published on Box (http://box.com/s/lf5vj). "
                           "The PM for this project is Mike C. and the Engineering Manager is jane@example.com.")
    assert posted.mentionedPeople == [mike["id"]] and posted.markdown == SPEC_MARKDOWN
    assert world.api.messages.get(posted.id).html == posted.html


def test_markdown_blocks_code_and_raw_html(world: World) -> None:
    posted = world.api.messages.create(roomId=world.direct["id"],
                                       markdown="# Title\n\n- *one*\n- `<b>two</b>`\n\n<i>raw</i> & <https://a.example/x>")
    assert "<h1>Title</h1>" in posted.html and "<li><em>one</em></li>" in posted.html
    assert "<code>&lt;b&gt;two&lt;/b&gt;</code>" in posted.html and "&lt;i&gt;raw&lt;/i&gt; &amp;" in posted.html
    assert posted.text == "Title\n\none\n<b>two</b>\n\n<i>raw</i> & https://a.example/x"


def test_given_text_stays_beside_the_markdown_and_plain_text_is_not_markdown(world: World) -> None:
    both = world.api.messages.create(roomId=world.direct["id"], text="fallback", markdown="**bold**")
    assert (both.text, both.html) == ("fallback", "<p><strong>bold</strong></p>")
    plain = world.api.messages.create(roomId=world.direct["id"], text="2 * 3 * 4 <b>")
    assert (plain.text, plain.html) == ("2 * 3 * 4 <b>", "<p>2 * 3 * 4 &lt;b&gt;</p>")


def test_the_bot_still_finds_its_mention_in_rendered_markdown(world: World) -> None:
    """bot/mentions.py reads the html: a mention inside markdown is still a ``<spark-mention>``."""
    alice = sdk(world.emulator, world.alice)
    asked = alice.messages.create(roomId=world.group["id"],
                                  markdown=f"<@personId:{world.bot['id']}|Helper Bot> **deploy** _now_, <@all>")
    got = world.api.messages.get(asked.id)
    assert got.mentionedPeople == [world.bot["id"]] and got.mentionedGroups == ["all"]
    assert got.text == "Helper Bot deploy now, All"
    assert command_text(got.text, got.html, world.bot["id"], "Helper Bot", direct=False) == "deploy now, All"


# -- files ------------------------------------------------------------------------------------------
def test_a_file_by_url_is_fetched_and_served_from_contents(world: World, web: str) -> None:
    posted = world.api.messages.create(roomId=world.direct["id"], text="see", files=[f"{web}/media.png"])
    [content_url] = posted.files
    assert content_url.startswith(world.emulator.url + "/v1/contents/")
    assert world.api.messages.get(posted.id).files == [content_url]
    got = download(world, content_url)
    assert got.status_code == 200 and got.content == PNG
    assert got.headers["Content-Type"] == "image/png"
    assert got.headers["Content-Disposition"] == 'attachment; filename="media.png"'
    assert requests.get(content_url, timeout=10).status_code == 401


def test_a_local_file_goes_as_multipart_and_comes_back_the_same(world: World, tmp_path: Path) -> None:
    local = tmp_path / "notes.txt"
    local.write_bytes(b"the notes\n")
    posted = world.api.messages.create(roomId=world.direct["id"], text="notes", files=[str(local)])
    got = download(world, posted.files[0])
    assert got.content == b"the notes\n" and 'filename="notes.txt"' in got.headers["Content-Disposition"]


@pytest.mark.parametrize("path, limit, why", [("/missing.png", contents.MAX_FILE_BYTES, "Unable to retrieve"),
                                             ("/media.png", 1000, "larger than 1000 bytes")])
def test_a_file_url_that_cannot_be_had_is_a_400(world: World, web: str, path: str, limit: int, why: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(contents, "MAX_FILE_BYTES", limit)
    error = api_error(world.api.messages.create, roomId=world.direct["id"], text="x", files=[web + path])
    assert error.status_code == 400 and why in error.message


def test_an_unreachable_file_url_is_a_400(world: World) -> None:
    closed = "http://127.0.0.1:9/nothing.png"  # the discard port: nothing listens there
    assert api_error(world.api.messages.create, roomId=world.direct["id"], files=[closed]).status_code == 400


# -- threads ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("to_root", [False, True])
def test_a_reply_to_a_reply(world: World, to_root: bool) -> None:
    """Webex is reported to take a reply named as parentId as its thread's root (UNSURE): by default
    the emulator refuses it, so a bot that names the root itself is what passes."""
    assert world.control.settings()["reply_parent_to_root"] is False
    world.control.settings(reply_parent_to_root=to_root)
    root = world.api.messages.create(roomId=world.direct["id"], text="root")
    reply = world.api.messages.create(roomId=world.direct["id"], parentId=root.id, text="reply")
    if to_root:
        again = world.api.messages.create(roomId=world.direct["id"], parentId=reply.id, text="again")
        assert again.parentId == root.id
    else:
        error = api_error(world.api.messages.create, roomId=world.direct["id"], parentId=reply.id, text="x")
        assert error.status_code == 400 and "Replies to replies" in error.message


# -- edits ------------------------------------------------------------------------------------------
def test_the_author_edits_a_message(world: World) -> None:
    posted = world.api.messages.create(roomId=world.group["id"], markdown="draft")
    assert posted.updated is None
    edited = world.api.messages.edit(posted.id, roomId=world.group["id"],
                                     markdown=f"**final** for <@personId:{world.alice['id']}|Alice>")
    assert (edited.id, edited.created) == (posted.id, posted.created) and edited.updated >= edited.created
    assert edited.text == "final for Alice" and edited.mentionedPeople == [world.alice["id"]]
    assert edited.html.startswith("<p><strong>final</strong>")
    assert world.api.messages.get(posted.id).markdown == edited.markdown


def test_edits_webex_refuses(world: World) -> None:
    mine = world.api.messages.create(roomId=world.direct["id"], text="mine")
    alice = sdk(world.emulator, world.alice)
    refused = [
        (alice, mine.id, {"roomId": world.direct["id"], "text": "hers"}, 403),
        (world.api, mine.id, {"roomId": world.group["id"], "text": "elsewhere"}, 400),
        (world.api, mine.id, {"roomId": world.direct["id"]}, 400),
    ]
    carded = world.api.messages.create(roomId=world.direct["id"], text="card", attachments=[CARD])
    refused.append((world.api, carded.id, {"roomId": world.direct["id"], "text": "new card text"}, 400))
    for api, message_id, fields, status in refused:
        assert api_error(api.messages.edit, message_id, **fields).status_code == status, fields
    for count in range(10):
        world.api.messages.edit(mine.id, roomId=world.direct["id"], text=f"edit {count}")
    assert api_error(world.api.messages.edit, mine.id, roomId=world.direct["id"], text="11").status_code == 400
    raw = requests.put(f"{world.emulator.api_url}messages/{mine.id}", timeout=10,
                       headers={"Authorization": f"Bearer {world.bot['token']}"},
                       json={"roomId": world.direct["id"], "markdown": "x", "html": "<p>x</p>"})
    assert raw.status_code == 400


# -- direct messages --------------------------------------------------------------------------------
def test_list_direct_messages_by_person_id_or_email(world: World) -> None:
    first = world.api.messages.create(toPersonId=world.alice["id"], text="one")
    second = world.api.messages.create(toPersonEmail=world.alice["emails"][0], text="two")
    reply = world.api.messages.create(roomId=first.roomId, parentId=first.id, text="in thread")
    world.api.messages.create(roomId=world.group["id"], text="not direct")
    by_id = [m.id for m in world.api.messages.list_direct(personId=world.alice["id"])]
    assert by_id == [reply.id, second.id, first.id]
    assert [m.id for m in world.api.messages.list_direct(personEmail=world.alice["emails"][0])] == by_id
    assert [m.id for m in world.api.messages.list_direct(personId=world.alice["id"], parentId=first.id)] == [reply.id]
    assert list(world.api.messages.list_direct(personId=world.bob["id"])) == []


def test_list_direct_messages_needs_one_known_person(world: World) -> None:
    assert api_error(lambda: list(world.api.messages.list_direct())).status_code == 400
    nobody = api_error(lambda: list(world.api.messages.list_direct(personEmail="nobody@example.com")))
    assert nobody.status_code == 404
