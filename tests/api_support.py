"""Small helpers shared by the API tests: seeding memories and building URLs."""

from accounts.actors import SYSTEM
from memories import services

TEAM_QS = "?team=acme"


def add_memory(space, content: str, **fields):
    """Add a memory through the real service (real embedder) as the system."""
    memory, _ = services.memory_add(
        actor=SYSTEM, space=space, data={"content": content, **fields}
    )
    return memory


def space_url(space, suffix: str = "", *, team: bool = True) -> str:
    """``/api/v1/spaces/<slug>/<suffix>`` naming the team (``?team=``)."""
    url = f"/api/v1/spaces/{space.slug}/{suffix}"
    return url + (f"?team={space.team.slug}" if team else "")


def memory_url(space, memory, suffix: str = "", *, query: str = "") -> str:
    """``/api/v1/spaces/<slug>/memories/<id>/<suffix>?team=...``."""
    url = f"/api/v1/spaces/{space.slug}/memories/{memory.pk}/{suffix}"
    return f"{url}?team={space.team.slug}{query}"
