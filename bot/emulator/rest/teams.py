"""``/v1/teams`` and ``/v1/team/memberships``: teams, who is in them, and their rooms.

Sure (the spec): the creator of a team is made a member of it; a team has a General space, whose last
moderator cannot leave; rooms belong to a team by ``teamId``. Assumed, as Webex's clients show it:
the General space has the team's name, the team's creator moderates both, and the team's members are
the General space's (added and removed with the team). Also assumed: any member adds people (only a
moderator makes moderators), only moderators rename or delete the team, and deleting a team deletes
its rooms. A team membership id is ``TEAM_MEMBERSHIP/<personUuid>:<teamUuid>``.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from ..http import body_json, fail, json_response
from ..models import Person, Team
from ..store import Store
from .common import Visible, paginate


def team_fields(fields: dict[str, Any]) -> tuple[str, str | None]:
    """``name`` and ``description`` of a new or changed team; 400 when they are not strings."""
    name, description = fields.get("name"), fields.get("description")
    if not isinstance(name, str) or not name.strip():
        fail(400, "name is required.")
    if description is not None and not isinstance(description, str):
        fail(400, "description must be a string.")
    return name, description


def create_teams_blueprint(store: Store, visible: Visible) -> Blueprint:
    bp = Blueprint("teams", __name__)

    def moderated(rest_id: str, what: str) -> Team:
        """The team, when the caller moderates it; 403 for another member."""
        team = visible.team(rest_id)
        if visible.me().uuid not in team.moderators:
            fail(403, f"Only a moderator of the team can {what}.")
        return team

    def membership(rest_id: str) -> tuple[Team, Person]:
        return visible.member_of(rest_id, "TEAM_MEMBERSHIP", "team membership", store.team)

    def keeps_a_moderator(team: Team, person: Person) -> None:
        if team.moderators == {person.uuid}:
            fail(409, "A team keeps at least one moderator; promote another first.")

    @bp.get("/teams")
    def teams_list() -> Response:
        return paginate([t.to_json() for t in store.teams_of(visible.me())], 100)

    @bp.post("/teams")
    def teams_create() -> Response:
        name, description = team_fields(body_json())
        return json_response(store.add_team(name, description, visible.me()).to_json())

    @bp.get("/teams/<team_id>")
    def teams_get(team_id: str) -> Response:
        return json_response(visible.team(team_id).to_json())

    @bp.put("/teams/<team_id>")
    def teams_update(team_id: str) -> Response:
        team = moderated(team_id, "change it")
        name, description = team_fields(body_json())
        store.update_team(team, name=name, description=description)
        return json_response(team.to_json())

    @bp.delete("/teams/<team_id>")
    def teams_delete(team_id: str) -> Response:
        store.delete_team(moderated(team_id, "delete it"), actor=visible.me())
        return Response(status=204)

    @bp.get("/team/memberships")
    def team_memberships_list() -> Response:
        if not request.args.get("teamId"):
            fail(400, "teamId is required.")
        team = visible.team(request.args["teamId"])
        return paginate([team.membership_json(p) for p in team.members], 100)

    @bp.post("/team/memberships")
    def team_memberships_create() -> Response:
        fields = body_json()
        if not isinstance(fields.get("teamId"), str) or not fields["teamId"]:
            fail(400, "teamId is required.")
        team = visible.team(fields["teamId"])
        moderator = fields.get("isModerator", False)
        if not isinstance(moderator, bool):
            fail(400, "isModerator must be true or false.")
        person = visible.person_in(fields)
        if person in team.members:
            fail(409, "The person is already a member of the team.")
        if moderator and visible.me().uuid not in team.moderators:
            fail(403, "Only a moderator of the team can make moderators.")
        store.add_team_member(team, person, actor=visible.me(), moderator=moderator)
        return json_response(team.membership_json(person))

    @bp.get("/team/memberships/<membership_id>")
    def team_memberships_get(membership_id: str) -> Response:
        team, person = membership(membership_id)
        return json_response(team.membership_json(person))

    @bp.put("/team/memberships/<membership_id>")
    def team_memberships_update(membership_id: str) -> Response:
        team, person = membership(membership_id)
        moderator = body_json().get("isModerator")
        if not isinstance(moderator, bool):
            fail(400, "isModerator is required, as true or false.")
        if visible.me().uuid not in team.moderators:
            fail(403, "Only a moderator of the team can change who moderates it.")
        if not moderator:
            keeps_a_moderator(team, person)
        store.update_team_member(team, person, actor=visible.me(), moderator=moderator)
        return json_response(team.membership_json(person))

    @bp.delete("/team/memberships/<membership_id>")
    def team_memberships_delete(membership_id: str) -> Response:
        team, person = membership(membership_id)
        me = visible.me()
        if person is not me and me.uuid not in team.moderators:
            fail(403, "Only a moderator of the team can remove others from it.")
        keeps_a_moderator(team, person)
        store.remove_team_member(team, person, actor=me)
        return Response(status=204)

    return bp
