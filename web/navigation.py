"""The team app's tabs: a space's pages and a team's pages.

Each page area adds its tab here (label, URL name, the permission a person
needs for the tab to be shown); the page itself still asks the services.
"""

from django.urls import reverse

from memories import permissions

# (label, URL name, space permission that shows the tab)
SPACE_TABS = [
    ("Memories", "web:space", permissions.VIEW),
    ("Entities", "web:space_entities", permissions.VIEW),
    ("Extraction", "web:space_extraction", permissions.VIEW),
    ("Import / export", "web:space_import", permissions.VIEW),
    ("Backends", "web:space_backends", permissions.VIEW),
    ("Sharing", "web:space_sharing", permissions.MANAGE),
    ("Webhooks", "web:space_webhooks", permissions.MANAGE),
]

# (label, URL name, whether the tab needs an owner or admin of the team)
TEAM_TABS: list[tuple[str, str, bool]] = [
    ("Members", "web:team", False),
    ("Activity", "web:team_activity", False),
    ("API keys", "web:team_keys", True),
]


def space_tabs(space, perms, current: str) -> list[dict]:
    """The tabs of ``space`` that ``perms`` show, ``current`` marked."""
    kwargs = {"team_slug": space.team.slug, "slug": space.slug}
    return [
        {
            "label": label,
            "url": reverse(name, kwargs=kwargs),
            "current": name == current,
        }
        for label, name, perm in SPACE_TABS
        if perm in perms
    ]


def team_tabs(team, *, admin: bool, current: str) -> list[dict]:
    """The tabs of ``team``; ``admin`` shows those for owners and admins."""
    kwargs = {"team_slug": team.slug}
    return [
        {
            "label": label,
            "url": reverse(name, kwargs=kwargs),
            "current": name == current,
        }
        for label, name, needs_admin in TEAM_TABS
        if admin or not needs_admin
    ]
