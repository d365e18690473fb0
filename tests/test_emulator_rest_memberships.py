"""Adding, reading and removing room members through webexpythonsdk; every answer is checked against
Webex's spec by ``answers_conform``."""
from __future__ import annotations

from emulator_rest_kit import World, api_error, sdk
from emulator_rest_kit import answers_conform, openapi, world  # noqa: F401 (fixtures, used by name)


def test_membership_create_get_and_delete(world: World) -> None:
    room = world.api.rooms.create("Bot's room")
    made = world.api.memberships.create(room.id, personEmail=world.alice["emails"][0])
    assert (made.roomId, made.personId, made.isModerator) == (room.id, world.alice["id"], False)
    assert world.api.memberships.get(made.id).personEmail == world.alice["emails"][0]
    assert api_error(world.api.memberships.create, room.id, personId=world.alice["id"]).status_code == 409
    assert api_error(sdk(world.emulator, world.bob).memberships.get, made.id).status_code == 404
    world.api.memberships.delete(made.id)
    assert api_error(world.api.memberships.get, made.id).status_code == 404
    assert {m.personId for m in world.api.memberships.list(roomId=room.id)} == {world.bot["id"]}


def test_membership_errors(world: World) -> None:
    assert api_error(world.api.memberships.create, world.direct["id"], personId=world.bob["id"]).status_code == 400
    assert api_error(world.api.memberships.get, "bm9wZQ").status_code == 404
    mine = next(m for m in world.api.memberships.list(roomId=world.direct["id"]) if m.personId == world.bot["id"])
    assert api_error(world.api.memberships.delete, mine.id).status_code == 403
