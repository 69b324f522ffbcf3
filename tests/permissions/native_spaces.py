"""Matrix entries of the native team, key, space and audit endpoints."""

from accounts.models import ApiKey
from audit.models import AccessEvent
from memories.models import Space
from tests.factories import make_key, make_member, make_space, make_team
from tests.permission_matrix import CALLERS, manages, reads
from tests.permissions.registry import Case, endpoint

SPACE = "api/v1/spaces/<slug:slug>/"
KEYS = "api/v1/teams/<slug:team_slug>/keys/"
# Team-wide lists answer everyone signed in, each about their own teams.
TEAM_WIDE = {"other_team": 200, "other_team_user": 200, "operator": 200}
# The other team's callers (and its staff member), whose team is ``other``.
OTHER_SIDE = ("other_team", "other_team_user", "operator")


def _slug(who: str) -> str:
    return who.replace("_", "-")


def key_admin(ok: int) -> dict[str, int]:
    """Key management: signed-in owners/admins only; acme keys see acme (403)."""
    return manages(ok, no_object_perm=403)


# --- teams and keys -------------------------------------------------------------------


@endpoint("GET", "api/v1/teams/", "team-list", reads(no_object_perm=200, **TEAM_WIDE))
def team_list(w):
    """Everyone authenticated lists their own teams, never another's."""

    def lists_own(who, response):
        if response.status_code == 200:
            slugs = [t["slug"] for t in response.json()["results"]]
            assert slugs == (["other"] if who in OTHER_SIDE else ["acme"]), who

    def roles(results):
        assert results["viewer"][0].json()["results"][0]["role"] == "viewer"
        assert results["operator"][0].json()["results"][0]["role"] == "member"
        assert results["writer"][0].json()["results"][0]["role"] is None

    return Case(
        w.call(),
        hidden={
            who: ['"acme"'] if who in OTHER_SIDE else ['"other"'] for who in CALLERS
        },
        after=lists_own,
        then=roles,
    )


@endpoint("GET", KEYS, "apikey-list", key_admin(200))
def key_list(w):
    """Only owners/admins list keys; no secret or hash is ever returned."""
    other_key = ApiKey.objects.get(team__slug="other")
    hashes = list(ApiKey.objects.values_list("hashed_secret", flat=True))

    def no_secret(results):
        listed = results["owner"][0].json()["results"]
        assert len(listed) == ApiKey.objects.filter(team=w.team).count()
        assert "secret" not in listed[0]

    return Case(
        w.call(team_slug="acme"),
        hidden=[*w.cast.secrets.values(), *hashes, other_key.prefix],
        then=no_secret,
    )


@endpoint("POST", KEYS, "apikey-list", key_admin(201))
def key_create(w):
    """Only signed-in owners/admins create keys; API keys cannot."""

    def only_the_owner_made_one(results):
        made = ApiKey.objects.filter(name__startswith="made by")
        assert list(made.values_list("name", flat=True)) == ["made by owner"]

    return Case(
        lambda who: w.call({"name": f"made by {who}"}, team_slug="acme"),
        then=only_the_owner_made_one,
    )


@endpoint("DELETE", KEYS + "<int:key_id>/", "apikey-detail", key_admin(204))
def key_revoke(w):
    """Only signed-in owners/admins revoke keys."""
    keys = {}

    def call(who):
        keys[who] = make_key(w.team, name=f"victim of {who}")[0]
        return w.call(team_slug="acme", key_id=keys[who].pk)

    def revoked_only_if_allowed(who, response):
        keys[who].refresh_from_db()
        assert (keys[who].revoked_at is not None) == (response.status_code == 204)

    return Case(call, after=revoked_only_if_allowed)


# --- spaces ---------------------------------------------------------------------------


@endpoint("GET", "api/v1/spaces/", "space-list", reads(no_object_perm=200, **TEAM_WIDE))
def space_list(w):
    """Each caller lists exactly the spaces it may view."""
    acme = {str(w.space.uuid), str(w.elsewhere.uuid)}
    other = {str(w.other_space.uuid)}
    expected = {
        **dict.fromkeys(OTHER_SIDE, other),
        "no_object_perm": {str(w.elsewhere.uuid)},
    }

    def lists_visible(who, response):
        if response.status_code == 200:
            ids = {s["id"] for s in response.json()["results"]}
            assert ids == expected.get(who, acme), who

    return Case(
        w.call(),
        hidden={
            who: [w.space.uuid] if who in expected else [w.other_space.uuid]
            for who in CALLERS
        },
        after=lists_visible,
    )


@endpoint("POST", "api/v1/spaces/", "space-list", manages(201, no_object_perm=403))
def space_create(w):
    """Only the team's owners/admins create spaces; other teams get 404."""

    def only_the_owners(results):
        made = Space.objects.filter(slug__startswith="new-")
        assert list(made.values_list("slug", flat=True)) == ["new-owner"]
        assert made.get().team == w.team

    return Case(
        lambda who: w.call({"team": "acme", "slug": f"new-{_slug(who)}", "name": "N"}),
        then=only_the_owners,
    )


@endpoint("GET", SPACE, "space-detail", reads())
def space_retrieve(w):
    """Reading a space is allowed to anyone who sees it, with their perms."""

    def perms(results):
        assert results["viewer"][0].json()["permissions"] == ["view_space"]
        assert "manage_space" in results["owner"][0].json()["permissions"]
        assert "manage_space" not in results["writer"][0].json()["permissions"]

    return Case(w.space_call(), then=perms)


@endpoint("PATCH", SPACE, "space-detail", manages())
def space_patch(w):
    """Changing a space needs manage_space."""

    def only_the_owner_changed_it(results):
        w.space.refresh_from_db()
        assert w.space.description == "owner"

    return Case(
        lambda who: w.space_call({"description": who}), then=only_the_owner_changed_it
    )


@endpoint("DELETE", SPACE, "space-detail", manages(204, no_object_perm=404))
def space_delete(w):
    """Shredding needs manage_space; denied callers leave the space intact."""
    spaces = {}

    def call(who):
        spaces[who] = make_space(w.team, f"doomed-{_slug(who)}")
        return w.space_call(space=spaces[who])

    def shredded_only_if_allowed(who, response):
        spaces[who].refresh_from_db()
        shredded = spaces[who].shredded_at is not None
        assert shredded == (response.status_code == 204), who

    return Case(call, after=shredded_only_if_allowed)


def _grant(w):
    guest = make_member(make_team("guests"), "member")
    return Case(
        w.space_call({"user": guest.username, "permissions": ["add_memory"]}),
    )


@endpoint("POST", SPACE + "share/", "space-share", manages())
def space_share(w):
    """Sharing needs manage_space (API keys never hold it)."""
    return _grant(w)


@endpoint("POST", SPACE + "unshare/", "space-unshare", manages())
def space_unshare(w):
    """Unsharing needs manage_space too."""
    return _grant(w)


@endpoint("GET", SPACE + "permissions/", "space-permissions", manages())
def space_permissions(w):
    """Listing grants needs manage_space."""
    return Case(w.space_call())


# --- audit ----------------------------------------------------------------------------


@endpoint("GET", "api/v1/audit/", "audit-list", reads(no_object_perm=200, **TEAM_WIDE))
def audit_list(w):
    """Owners see their team's events; others see none; no cross-team rows."""
    w.add("acme fact")
    acme_ids = list(
        AccessEvent.objects.filter(team_pk=w.team.pk).values_list("pk", flat=True)
    )
    # Audited in team "other", whose owner (only) must see it.
    w.cast.clients["other_team_user"].get("/api/v1/spaces/default/memories/")

    def sees_own(who, response):
        if response.status_code != 200:
            return
        teams = {e["team_id"] for e in response.json()["results"]}
        if who == "owner":
            assert teams == {w.team.pk}
        elif who == "other_team_user":
            assert w.team.pk not in teams and teams
        else:
            assert teams == set(), who

    content = w.hidden_content()
    return Case(
        w.call(),
        hidden={
            who: content[who]
            + ([] if who == "owner" else [f'"id":{pk},' for pk in acme_ids])
            for who in CALLERS
        },
        after=sees_own,
    )
