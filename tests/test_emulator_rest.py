"""The emulator's REST API, driven by the real webexpythonsdk and judged by Webex's own OpenAPI spec:
people, rooms and memberships; posting and reading messages; webhooks and card actions.

Every test here also has each answer the emulator gave it checked (see ``answers_conform`` in
``emulator_rest_kit``): error bodies carry ``message``, ``errors`` and ``trackingId``, every status is one
the spec documents for the operation, and every JSON body validates against the spec's schema for that
status. Errors and injected faults are tested in ``test_emulator_rest_errors.py``; every route against
the spec, the timestamps and the one amendment of the spec in ``test_emulator_rest_spec.py``.
"""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

import requests
from webexpythonsdk.models.immutable import AttachmentAction

from bot.emulator.ids import decode_id
from emulator_rest_kit import CARD, World, api_error, sdk, uri_of
from emulator_rest_kit import answers_conform, openapi, world  # noqa: F401 (fixtures, used by name)


# -- people, rooms, memberships -------------------------------------------------------------------
def test_people_me_get_and_list(world: World) -> None:
    me = world.api.people.me()
    assert (me.id, me.displayName, me.type, me.emails) == (world.bot["id"], "Helper Bot", "bot", world.bot["emails"])
    assert isinstance(me.created, datetime)
    alice = world.api.people.get(world.alice["id"])
    assert (alice.displayName, alice.firstName, alice.lastName, alice.type) == ("Alice Smith", "Alice", "Smith",
                                                                                  "person")
    assert alice.orgId == me.orgId and isinstance(alice.created, datetime)
    assert [p.id for p in world.api.people.list(email=world.alice["emails"][0].upper())] == [world.alice["id"]]
    assert list(world.api.people.list(email="nobody@example.com")) == []
    assert [p.id for p in world.api.people.list(displayName="bob")] == [world.bob["id"]]
    both = f"{world.alice['id']},{world.bob['id']}"
    assert {p.id for p in world.api.people.list(id=both)} == {world.alice["id"], world.bob["id"]}
    assert api_error(list, world.api.people.list()).status_code == 400


def test_rooms_list_get_and_create(world: World) -> None:
    made = world.api.rooms.create("Bot's own room")
    assert (made.title, made.type, made.creatorId, made.isLocked) == ("Bot's own room", "group", world.bot["id"], False)
    assert isinstance(made.created, datetime) and isinstance(made.lastActivity, datetime)
    fetched = world.api.rooms.get(world.group["id"])
    assert (fetched.id, fetched.title, fetched.type, fetched.creatorId) == (
        world.group["id"], "Project", "group", world.alice["id"])
    world.control.create_group("Third", world.bob, [world.bot])
    world.control.clear_calls()
    everything = list(world.api.rooms.list(max=1))
    assert len(everything) == 4 and len({r.id for r in everything}) == 4
    pages = [c for c in world.control.calls() if c["path"] == "/v1/rooms"]
    assert len(pages) == 4 and all(len(page["response"]["items"]) == 1 for page in pages)
    assert "cursor=" in pages[-1]["query"] and "max=1" in pages[-1]["query"]
    assert [r.id for r in world.api.rooms.list(type="direct")] == [world.direct["id"]]
    assert {r.id for r in world.api.rooms.list(type="group")} == {r.id for r in everything} - {world.direct["id"]}


def test_memberships_by_room_and_by_email(world: World) -> None:
    members = list(world.api.memberships.list(roomId=world.group["id"]))
    assert {m.personId for m in members} == {world.alice["id"], world.bob["id"], world.bot["id"]}
    creator = next(m for m in members if m.personId == world.alice["id"])
    assert (creator.isModerator, creator.personDisplayName, creator.roomId) == (True, "Alice Smith", world.group["id"])
    assert isinstance(creator.created, datetime)
    bob = list(world.api.memberships.list(roomId=world.group["id"], personEmail=world.bob["emails"][0]))
    assert [m.personId for m in bob] == [world.bob["id"]]
    mine = list(world.api.memberships.list(personEmail=world.bot["emails"][0]))
    assert {m.roomId for m in mine} == {world.group["id"], world.direct["id"]}
    assert {m.personId for m in mine} == {world.bot["id"]}


# -- posting messages -----------------------------------------------------------------------------
def test_post_text_and_markdown_with_a_mention(world: World) -> None:
    plain = world.api.messages.create(roomId=world.group["id"], text="hello a < b")
    assert (plain.roomId, plain.roomType, plain.text, plain.personId, plain.personEmail) == (
        world.group["id"], "group", "hello a < b", world.bot["id"], world.bot["emails"][0])
    assert isinstance(plain.created, datetime) and plain.mentionedPeople is None
    alice_id = world.alice["id"]
    marked = world.api.messages.create(
        roomId=world.group["id"],
        markdown=f"Hi <@personId:{alice_id}|Alice> and <@personEmail:{world.bob['emails'][0]}>, **done**")
    assert marked.markdown.startswith("Hi <@personId:")
    assert marked.text == "Hi Alice and Bob Jones, done"  # the markdown rendered, then stripped
    assert marked.mentionedPeople == [alice_id, world.bob["id"]]
    assert f'<spark-mention data-object-type="person" data-object-id="{alice_id}">Alice</spark-mention>' in marked.html
    assert world.api.messages.get(marked.id).mentionedPeople == [alice_id, world.bob["id"]]


def test_post_to_a_person_makes_the_direct_room(world: World) -> None:
    carol = world.control.create_person("Carol White")
    by_email = world.api.messages.create(toPersonEmail=carol["emails"][0], text="hello Carol")
    assert by_email.roomType == "direct"
    by_id = world.api.messages.create(toPersonId=carol["id"], text="again")
    assert by_id.roomId == by_email.roomId
    room = world.api.rooms.get(by_email.roomId)
    assert room.type == "direct"
    assert {m.personId for m in world.api.memberships.list(roomId=room.id)} == {carol["id"], world.bot["id"]}
    assert [m["text"] for m in world.control.messages(room={"id": room.id})] == ["hello Carol", "again"]
    assert api_error(world.api.messages.create, toPersonEmail="nobody@example.com", text="x").status_code == 404


def test_thread_replies_one_level_deep(world: World) -> None:
    top = world.control.post(world.alice, "top", room=world.direct)
    reply = world.api.messages.create(roomId=world.direct["id"], parentId=top["id"], text="in the thread")
    assert reply.parentId == top["id"]
    refused = api_error(world.api.messages.create, roomId=world.direct["id"], parentId=reply.id, text="deeper")
    assert refused.status_code == 400 and "parentId" in refused.message


def test_upload_a_local_file_as_multipart(world: World, tmp_path: Path) -> None:
    data = bytes(range(256)) * 40
    local = tmp_path / "report.bin"
    local.write_bytes(data)
    posted = world.api.messages.create(roomId=world.direct["id"], text="the report", files=[str(local)])
    assert posted.text == "the report" and len(posted.files) == 1
    content_url = posted.files[0]
    assert content_url.startswith(world.emulator.url + "/v1/contents/")
    download = requests.get(content_url, headers={"Authorization": f"Bearer {world.bot['token']}"}, timeout=10)
    assert download.status_code == 200 and download.content == data
    assert 'filename="report.bin"' in download.headers["Content-Disposition"]
    assert requests.get(content_url, timeout=10).status_code == 401


def test_post_an_adaptive_card(world: World) -> None:
    posted = world.api.messages.create(roomId=world.direct["id"], text="fill this in", attachments=[CARD])
    assert posted.attachments == [CARD]
    assert world.api.messages.get(posted.id).attachments == [CARD]
    alone = world.api.messages.create(roomId=world.direct["id"], attachments=[CARD])  # Webex takes a card alone
    assert (alone.attachments, alone.text, alone.html) == ([CARD], None, None)
    bad = {**CARD, "contentType": "text/plain"}
    assert api_error(world.api.messages.create, roomId=world.direct["id"], attachments=[bad]).status_code == 400


# -- reading messages -----------------------------------------------------------------------------
def test_list_messages_with_every_filter(world: World) -> None:
    control, room = world.control, world.direct
    first = control.post(world.alice, "one", room=room)
    second = control.post(world.alice, "two", room=room)
    third = control.post(world.alice, "three", room=room, mentions=(world.bot,))
    reply = world.api.messages.create(roomId=room["id"], parentId=first["id"], text="reply")
    newest_first = [reply.id, third["id"], second["id"], first["id"]]
    listed = list(world.api.messages.list(roomId=room["id"]))
    assert [m.id for m in listed] == newest_first and all(isinstance(m.created, datetime) for m in listed)
    assert [m.id for m in world.api.messages.list(roomId=room["id"], mentionedPeople="me")] == [third["id"]]
    assert [m.id for m in world.api.messages.list(roomId=room["id"], parentId=first["id"])] == [reply.id]
    assert [m.id for m in world.api.messages.list(roomId=room["id"], beforeMessage=third["id"])] == newest_first[2:]
    cutoff, created = third["created"], {m["id"]: m["created"] for m in control.messages(room=room)}
    earlier = [i for i in newest_first if created[i] < cutoff]  # same-millisecond posts are not "before"
    assert [m.id for m in world.api.messages.list(roomId=room["id"], before=cutoff)] == earlier
    assert third["id"] not in earlier
    world.control.clear_calls()
    assert [m.id for m in world.api.messages.list(roomId=room["id"], max=2)] == newest_first
    pages = [c for c in world.control.calls() if c["path"] == "/v1/messages"]
    assert [len(page["response"]["items"]) for page in pages] == [2, 2]
    assert api_error(list, world.api.messages.list(roomId=room["id"], mentionedPeople=world.alice["id"])).status_code \
        == 400


def test_a_bot_lists_a_group_room_only_with_mentioned_people(world: World) -> None:
    world.control.post(world.alice, "not for the bot", room=world.group)
    asked = world.control.post(world.alice, "status?", room=world.group, mentions=(world.bot,))
    refused = api_error(list, world.api.messages.list(roomId=world.group["id"]))
    assert refused.status_code == 403 and "mentionedPeople" in refused.message
    assert [m.id for m in world.api.messages.list(roomId=world.group["id"], mentionedPeople="me")] == [asked["id"]]
    assert [m.id for m in world.api.messages.list(roomId=world.group["id"],
                                                  mentionedPeople=world.bot["id"])] == [asked["id"]]
    as_alice = sdk(world.emulator, world.alice)
    assert len(list(as_alice.messages.list(roomId=world.group["id"]))) == 2


def test_group_messages_a_bot_is_not_named_in_are_invisible_to_it(world: World) -> None:
    unseen = world.control.post(world.alice, "between people", room=world.group)
    named = world.control.post(world.alice, "please help", room=world.group, mentions=(world.bot,))
    assert api_error(world.api.messages.get, unseen["id"]).status_code == 404
    got = world.api.messages.get(named["id"])
    assert got.text == "Helper Bot please help" and got.mentionedPeople == [world.bot["id"]]
    assert f'data-object-id="{world.bot["id"]}">Helper Bot</spark-mention>' in got.html
    assert sdk(world.emulator, world.bob).messages.get(unseen["id"]).text == "between people"


def test_delete_a_message(world: World) -> None:
    posted = world.api.messages.create(roomId=world.direct["id"], text="oops")
    assert world.api.messages.delete(posted.id) is None
    assert [c["status"] for c in world.control.calls() if c["method"] == "DELETE"] == [204]
    assert api_error(world.api.messages.get, posted.id).status_code == 404
    theirs = world.control.post(world.alice, "mine", room=world.direct)
    assert api_error(world.api.messages.delete, theirs["id"]).status_code == 403


def test_rooms_of_another_cluster(world: World) -> None:
    eu = world.control.create_group("Europe", world.alice, [world.bot], cluster="eu-central-1_k")
    room_uuid = decode_id(eu["id"])[1]
    assert uri_of(eu["id"]) == f"ciscospark://urn:TEAM:eu-central-1_k/ROOM/{room_uuid}"
    assert world.api.rooms.get(eu["id"]).title == "Europe"
    posted = world.api.messages.create(roomId=eu["id"], text="hallo")
    assert uri_of(posted.id).startswith("ciscospark://urn:TEAM:eu-central-1_k/MESSAGE/")
    asked = world.control.post(world.alice, "wie geht's?", room=eu, mentions=(world.bot,))
    assert [m.id for m in world.api.messages.list(roomId=eu["id"], mentionedPeople="me")] == [asked["id"]]
    assert world.api.messages.get(asked["id"]).roomId == eu["id"]
    assert {m.personId for m in world.api.memberships.list(roomId=eu["id"])} == {world.alice["id"], world.bot["id"]}


# -- webhooks and card actions --------------------------------------------------------------------
def test_webhook_lifecycle(world: World) -> None:
    api, target = world.api, "https://bot.example.com/hook/abc"
    made = api.webhooks.create(name="helper-laptop", targetUrl=target, resource="messages", event="created",
                               filter=f"roomId={world.group['id']}", secret="s3cret")
    assert (made.name, made.targetUrl, made.resource, made.event, made.status, made.secret) == (
        "helper-laptop", target, "messages", "created", "active", "s3cret")
    assert made.filter == f"roomId={world.group['id']}" and made.createdBy == world.bot["id"]
    assert isinstance(made.created, datetime)
    assert [h.id for h in api.webhooks.list()] == [made.id]
    assert api.webhooks.get(made.id).targetUrl == target
    renamed = api.webhooks.update(made.id, name="helper-renamed", targetUrl=target + "2")
    assert (renamed.id, renamed.name, renamed.targetUrl, renamed.secret) == (made.id, "helper-renamed",
                                                                           target + "2", "s3cret")
    assert api_error(api.webhooks.update, made.id, name="no target").status_code == 400
    refused = api_error(api.webhooks.update, made.id, name="x", targetUrl=target, status="inactive")
    assert refused.status_code == 400 and "active" in refused.message
    world.control.deactivate_webhook(made.id)
    assert api.webhooks.get(made.id).status == "inactive"
    assert api.webhooks.update(made.id, name="x", targetUrl=target, status="active").status == "active"
    assert api.webhooks.delete(made.id) is None
    assert api_error(api.webhooks.get, made.id).status_code == 404
    assert list(api.webhooks.list()) == []


def test_a_webhook_of_another_bot_is_not_found(world: World) -> None:
    other = sdk(world.emulator, world.control.create_bot("Other Bot"))
    theirs = other.webhooks.create(name="other", targetUrl="https://other.example.com/", resource="messages",
                                   event="created")
    assert api_error(world.api.webhooks.get, theirs.id).status_code == 404
    assert api_error(world.api.webhooks.update, theirs.id, name="mine", targetUrl="https://x.example/").status_code \
        == 404
    assert api_error(world.api.webhooks.delete, theirs.id).status_code == 404
    assert list(world.api.webhooks.list()) == []
    assert other.webhooks.get(theirs.id).name == "other"


def test_card_submits_through_attachment_actions(world: World) -> None:
    """Webex and its spec answer ``POST /attachment/actions`` with 202; webexpythonsdk 2.0.6 expects
    200 there and raises ApiError for the 202 although the action was created. The emulator follows
    Webex (bots never submit cards; people do), so the test reads the action from the 202's body."""
    card = world.api.messages.create(roomId=world.direct["id"], text="fill this in", attachments=[CARD])
    accepted = api_error(sdk(world.emulator, world.alice).attachment_actions.create,
                         type="submit", messageId=card.id, inputs={"name": "Alice"})
    assert accepted.status_code == 202
    action = AttachmentAction(accepted.response.json())
    assert (action.type, action.messageId, action.personId, action.roomId) == (
        "submit", card.id, world.alice["id"], world.direct["id"])
    fetched = world.api.attachment_actions.get(action.id)
    assert fetched.inputs == {"name": "Alice"} and isinstance(fetched.created, datetime)
    submitted = world.control.submit_card(world.alice, {"id": card.id}, {"name": "again"})
    assert world.api.attachment_actions.get(submitted["id"]).inputs == {"name": "again"}
    plain = world.api.messages.create(roomId=world.direct["id"], text="no card")
    assert api_error(sdk(world.emulator, world.alice).attachment_actions.create,
                     type="submit", messageId=plain.id, inputs={}).status_code == 400
