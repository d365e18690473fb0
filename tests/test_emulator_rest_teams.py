"""Teams, their members and their rooms through webexpythonsdk; every answer is checked against
Webex's spec by ``answers_conform``."""
from __future__ import annotations

from emulator_rest_kit import World, api_error, sdk
from emulator_rest_kit import answers_conform, openapi, world  # noqa: F401 (fixtures, used by name)


def test_a_team_comes_with_its_general_room_and_its_creator_as_moderator(world: World) -> None:
    team = world.api.teams.create("Build Squad", description="The A team")
    assert (team.name, team.description) == ("Build Squad", "The A team")
    assert [t.id for t in world.api.teams.list()] == [team.id]
    general, = world.api.rooms.list(teamId=team.id)
    assert (general.title, general.teamId, general.type) == ("Build Squad", team.id, "group")
    creator, = world.api.team_memberships.list(team.id)
    assert (creator.personId, creator.isModerator, creator.teamId) == (world.bot["id"], True, team.id)
    assert world.api.teams.update(team.id, name="Squad", description="B").name == "Squad"
    assert world.api.teams.get(team.id).description == "B"


def test_team_members_join_and_leave_the_general_room(world: World) -> None:
    team = world.api.teams.create("Squad")
    general, = world.api.rooms.list(teamId=team.id)
    made = world.api.team_memberships.create(team.id, personEmail=world.alice["emails"][0])
    assert (made.personId, made.isModerator) == (world.alice["id"], False)
    assert world.api.team_memberships.get(made.id).personEmail == world.alice["emails"][0]
    assert world.alice["id"] in {m.personId for m in world.api.memberships.list(roomId=general.id)}
    assert world.api.team_memberships.update(made.id, isModerator=True).isModerator is True
    alice_view = next(m for m in world.api.memberships.list(roomId=general.id) if m.personId == world.alice["id"])
    assert alice_view.isModerator is True
    world.api.team_memberships.delete(made.id)
    assert world.alice["id"] not in {m.personId for m in world.api.memberships.list(roomId=general.id)}
    assert api_error(world.api.team_memberships.get, made.id).status_code == 404


def test_a_room_made_in_a_team_and_the_team_deleted_with_its_rooms(world: World) -> None:
    team = world.api.teams.create("Squad")
    room = world.api.rooms.create("Side room", teamId=team.id)
    assert room.teamId == team.id
    assert len(list(world.api.rooms.list(teamId=team.id))) == 2
    world.api.teams.delete(team.id)
    assert api_error(world.api.teams.get, team.id).status_code == 404
    assert api_error(world.api.rooms.get, room.id).status_code == 404
    assert list(world.api.teams.list()) == []


def test_team_errors(world: World) -> None:
    team = world.api.teams.create("Squad")
    alice = sdk(world.emulator, world.alice)
    assert api_error(world.api.teams.create, "").status_code == 400
    assert api_error(world.api.teams.update, team.id, name="").status_code == 400
    assert api_error(alice.teams.get, team.id).status_code == 404  # not a member
    assert api_error(world.api.teams.get, world.group["id"]).status_code == 404  # a room's id
    assert api_error(alice.rooms.create, "Not hers", teamId=team.id).status_code == 404
    world.api.team_memberships.create(team.id, personId=world.alice["id"])
    assert api_error(alice.teams.update, team.id, name="Mine").status_code == 403  # a member, no moderator
    assert api_error(alice.teams.delete, team.id).status_code == 403


def test_team_membership_errors(world: World) -> None:
    team = world.api.teams.create("Squad")
    alice, bob = sdk(world.emulator, world.alice), sdk(world.emulator, world.bob)
    mine, = world.api.team_memberships.list(team.id)
    assert api_error(lambda: list(world.api.team_memberships.list(""))).status_code == 400
    assert api_error(world.api.team_memberships.create, team.id).status_code == 400  # nobody named
    # A wrong type goes through the SDK's session, past its own checks:
    assert api_error(world.api._session.post, "team/memberships",
                     json={"teamId": team.id, "personId": world.alice["id"], "isModerator": "yes"}).status_code == 400
    assert api_error(world.api.team_memberships.create, team.id, personEmail="nobody@example.com").status_code == 404
    assert api_error(lambda: list(bob.team_memberships.list(team.id))).status_code == 404
    assert api_error(bob.team_memberships.get, mine.id).status_code == 404
    assert api_error(world.api.team_memberships.get, "bm9wZQ").status_code == 404
    hers = world.api.team_memberships.create(team.id, personId=world.alice["id"])
    assert api_error(world.api.team_memberships.create, team.id, personId=world.alice["id"]).status_code == 409
    assert api_error(alice.team_memberships.create, team.id, personId=world.bob["id"],
                     isModerator=True).status_code == 403
    assert api_error(alice.team_memberships.update, hers.id, isModerator=True).status_code == 403
    assert api_error(alice.team_memberships.delete, mine.id).status_code == 403
    assert api_error(world.api.team_memberships.update, hers.id).status_code == 400  # no isModerator
    # The last moderator stays: neither demoted nor removed.
    assert api_error(world.api.team_memberships.update, mine.id, isModerator=False).status_code == 409
    assert api_error(world.api.team_memberships.delete, mine.id).status_code == 409
    general, = world.api.rooms.list(teamId=team.id)
    assert api_error(world.api.rooms.delete, general.id).status_code == 403
    own = next(m for m in world.api.memberships.list(roomId=general.id) if m.personId == world.bot["id"])
    assert api_error(world.api.memberships.delete, own.id).status_code == 409
    alice.team_memberships.delete(hers.id)  # a member leaves by herself
