"""Changing and deleting rooms, their meeting details, and changing memberships through webexpythonsdk;
every answer is checked against Webex's spec by ``answers_conform``."""
from __future__ import annotations

from emulator_rest_kit import CARD, World, api_error, sdk
from emulator_rest_kit import answers_conform, openapi, world  # noqa: F401 (fixtures, used by name)


def test_update_a_room(world: World) -> None:
    room = world.api.rooms.create("Draft")
    team = world.api.teams.create("Squad")
    changed = world.api.rooms.update(room.id, title="Final", isLocked=True, teamId=team.id,
                                     description="Plans", isPublic=True, isAnnouncementOnly=True)
    assert (changed.title, changed.isLocked, changed.teamId, changed.isPublic) == ("Final", True, team.id, True)
    got = world.api.rooms.get(room.id)
    assert (got.description, got.isAnnouncementOnly, got.title) == ("Plans", True, "Final")
    assert got.madePublic is not None
    assert world.api.rooms.update(room.id, title="Final", description=" ", isPublic=False).description is None


def test_update_room_errors(world: World) -> None:
    room = world.api.rooms.create("Draft")
    world.api.memberships.create(room.id, personId=world.alice["id"])
    alice = sdk(world.emulator, world.alice)
    assert api_error(world.api.rooms.update, room.id, title="").status_code == 400
    assert api_error(world.api._session.put, f"rooms/{room.id}", json={"title": "x", "isLocked": "yes"}).status_code == 400
    assert api_error(world.api.rooms.update, room.id, title="x", isAnnouncementOnly=True).status_code == 400
    assert api_error(world.api.rooms.update, room.id, title="x", isPublic=True).status_code == 400  # no description
    assert api_error(world.api.rooms.update, room.id, title="x", isReadOnly=True).status_code == 403
    assert api_error(world.api.rooms.update, world.direct["id"], title="x").status_code == 403
    assert api_error(sdk(world.emulator, world.bob).rooms.update, room.id, title="x").status_code == 404
    assert api_error(world.api.rooms.update, "bm9wZQ", title="x").status_code == 404
    world.api.rooms.update(room.id, title="Locked", isLocked=True)
    assert api_error(alice.rooms.update, room.id, title="Hers").status_code == 403  # no moderator
    one, other = world.api.teams.create("One"), world.api.teams.create("Other")
    world.api.rooms.update(room.id, title="Locked", teamId=one.id)
    assert api_error(world.api.rooms.update, room.id, title="Locked", teamId=other.id).status_code == 400


def test_the_creator_deletes_a_room_with_its_messages_and_memberships(world: World) -> None:
    room = world.api.rooms.create("Short-lived")
    joined = world.api.memberships.create(room.id, personId=world.alice["id"])
    posted = world.api.messages.create(roomId=room.id, text="bye")
    world.api.rooms.delete(room.id)
    assert api_error(world.api.rooms.get, room.id).status_code == 404
    assert api_error(world.api.messages.get, posted.id).status_code == 404
    assert api_error(sdk(world.emulator, world.alice).memberships.get, joined.id).status_code == 404
    assert api_error(world.api.rooms.delete, room.id).status_code == 404


def test_anyone_else_who_deletes_a_room_leaves_it(world: World) -> None:
    """The spec: "when a non moderator deletes the room they are removed from the room instead"."""
    world.api.rooms.delete(world.group["id"])  # the bot is a member of Alice's room, not its moderator
    assert api_error(world.api.rooms.get, world.group["id"]).status_code == 404
    alice = sdk(world.emulator, world.alice)
    assert world.bot["id"] not in {m.personId for m in alice.memberships.list(roomId=world.group["id"])}
    assert alice.rooms.get(world.group["id"]).title == "Project"


def test_meeting_info_is_stable_per_room(world: World) -> None:
    info = world.api.rooms.get_meeting_info(world.group["id"])
    assert info.roomId == world.group["id"]
    assert info.sipAddress == f"{info.meetingNumber}@emulator.webex.com" and len(info.meetingNumber) == 9
    assert info.meetingLink.startswith("https://")
    assert sdk(world.emulator, world.alice).rooms.get_meeting_info(world.group["id"]).meetingLink == info.meetingLink
    assert world.api.rooms.get_meeting_info(world.direct["id"]).meetingNumber != info.meetingNumber
    assert api_error(sdk(world.emulator, world.bob).rooms.get_meeting_info, world.direct["id"]).status_code == 404


def test_update_a_membership(world: World) -> None:
    room = world.api.rooms.create("Moderated")
    joined = world.api.memberships.create(room.id, personId=world.alice["id"])
    assert world.api.memberships.update(joined.id, isModerator=True).isModerator is True
    alice = sdk(world.emulator, world.alice)
    own = next(m for m in alice.memberships.list(roomId=world.direct["id"]) if m.personId == world.alice["id"])
    hidden = alice._session.put(f"memberships/{own.id}", json={"isModerator": False, "isRoomHidden": True})
    assert hidden["isRoomHidden"] is True
    world.api.messages.create(roomId=world.direct["id"], text="back")  # a new message shows the room again
    assert alice.memberships.get(own.id).isRoomHidden is False


def test_update_membership_errors(world: World) -> None:
    room = world.api.rooms.create("Moderated")
    joined = world.api.memberships.create(room.id, personId=world.alice["id"])
    alice = sdk(world.emulator, world.alice)
    mine = next(m for m in world.api.memberships.list(roomId=room.id) if m.personId == world.bot["id"])
    assert api_error(world.api._session.put, f"memberships/{joined.id}", json={}).status_code == 400
    assert api_error(world.api._session.put, f"memberships/{joined.id}", json={"isModerator": "yes"}).status_code == 400
    assert api_error(alice.memberships.update, mine.id, isModerator=False).status_code == 403  # no moderator
    assert api_error(world.api._session.put, f"memberships/{joined.id}", json={"isRoomHidden": True}).status_code == 403
    direct = next(m for m in world.api.memberships.list(roomId=world.direct["id"]) if m.personId == world.bot["id"])
    assert api_error(world.api.memberships.update, direct.id, isModerator=True).status_code == 400
    assert api_error(sdk(world.emulator, world.bob).memberships.update, joined.id, isModerator=True).status_code == 404
    assert api_error(world.api.memberships.update, "bm9wZQ", isModerator=True).status_code == 404


def test_a_card_alone_has_no_text(world: World) -> None:
    """Webex takes a card without text or markdown (clients without cards then show nothing); the
    spec's ``text`` is optional, and such a message has none."""
    posted = world.api.messages.create(toPersonEmail=world.alice["emails"][0], attachments=[CARD])
    got = sdk(world.emulator, world.alice).messages.get(posted.id)
    assert (got.text, got.markdown, got.html, got.attachments) == (None, None, None, [CARD])


def test_either_member_deletes_a_direct_room(world: World) -> None:
    world.api.rooms.delete(world.direct["id"])
    assert api_error(sdk(world.emulator, world.alice).rooms.get, world.direct["id"]).status_code == 404
