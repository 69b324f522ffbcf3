"""Server time of the team app's pages at N memories in one space.

1. Loads N synthetic memories (``corpus.py``; default 100,000) into the same
   corpus space ``bench_api.py`` uses (``bench/api-n<N>-u<users>-v<version>``),
   so either script reuses what the other loaded. Embeddings are cached under
   ``var/bench-cache/``.
2. Signs a person in (an owner of team ``bench``) and requests the pages
   in this process through Django's request handler (``django.test.Client``:
   every middleware, the session, the view, the selectors, the audit row and
   the template — everything a worker does except the socket), one at a
   time:

   - the space page (first page, newest first), a later page by cursor, a
     page filtered by user id, and the htmx partial of the filter form;
   - search (hybrid, top 10, query embedding included) as the htmx partial
     the search box asks for, and as the full page; the REST API's own
     search (``POST /api/v1/spaces/<slug>/search/``, same query, same
     process, an API key) beside it, so the UI's share is the difference;
   - the memory page of random memories (content, history, audit trail).

3. Counts the SQL queries of one request of each kind.

Targets (issue #11): space page p95 <= 60 ms; search p95 <= 40 ms plus the
API's own search time. The report is Markdown on stdout, progress on stderr;
nothing is asserted.

    .venv/bin/python benchmarks/bench_ui.py [--n 100000] [--ops 200]
"""

from __future__ import annotations

import argparse
import random
import re
import sys
from pathlib import Path
from urllib.parse import unquote

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import corpus, harness
from benchmarks.harness import Timing, md_table, measure, progress

HOST = "127.0.0.1"


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--n", type=int, default=100_000, help="memories in the corpus space")
    add("--users", type=int, default=100, help="distinct user_ids in the corpus")
    add("--ops", type=int, default=200, help="requests per page kind")
    add("--warm", type=int, default=20, help="unmeasured requests per page kind")
    add("--pgdata", type=Path, default=harness.DEFAULT_PGDATA)
    add("--seed", type=int, default=11)
    return parser.parse_args(argv)


def prepare(args):
    """The loaded corpus space, a signed-in owner's client and an API client."""
    from django.test import Client

    from accounts import services as account_services
    from accounts.models import User

    slug = f"api-n{args.n}-u{args.users}-v{corpus.CORPUS_VERSION}"
    (space,), key = harness.bootstrap_space(team_slug="bench", space_slugs=[slug])
    progress(f"embeddings for {args.n} corpus items (cached in {harness.CACHE_DIR})")
    vectors = corpus.embeddings(args.n, harness.CACHE_DIR)
    corpus.restore_hnsw(harness.CACHE_DIR)
    missing = args.n - corpus.loaded_count(space)
    if missing > 0:
        progress(f"loading {missing} memories into space {space.slug}")
        corpus.load(
            space,
            args.n,
            args.users,
            vectors,
            cache_dir=harness.CACHE_DIR if missing >= corpus.REBUILD_AT else None,
        )
    person = User.objects.filter(username="bench-ui").first()
    if person is None:
        person = account_services.user_create(
            username="bench-ui", password=None, email=""
        )
    account_services.membership_set(team=space.team, user=person, role="owner")
    browser = Client(HTTP_HOST=HOST)
    browser.force_login(person)
    api = Client(HTTP_HOST=HOST, HTTP_AUTHORIZATION=f"Bearer {key}")
    return space, browser, api


def _ok(response) -> None:
    if response.status_code != 200:
        raise RuntimeError(
            f"{response.request['PATH_INFO']} -> {response.status_code}: "
            f"{response.content[:300]!r}"
        )


def pages(space, browser, api, args) -> tuple[list[Timing], list[list]]:
    """Each page kind measured ``args.ops`` times; and its query count."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    from memories.models import Memory

    rng = random.Random(args.seed)
    space_url = reverse(
        "web:space", kwargs={"team_slug": space.team.slug, "slug": space.slug}
    )
    first = browser.get(space_url)
    _ok(first)
    found = re.search(rb"[?&]cursor=([^&\"]+)", first.content)
    if found is None:
        raise RuntimeError("the space page links to no next page: too few memories?")
    cursor = unquote(found.group(1).decode())
    ids = list(
        Memory.objects.filter(space=space)
        .order_by("?")
        .values_list("pk", flat=True)[: args.ops]
    )
    queries = [corpus.query(rng.randrange(10**6)) for _ in range(args.ops)]
    users = [f"user-{rng.randrange(args.users)}" for _ in range(args.ops)]
    htmx = {"HTTP_HX_REQUEST": "true"}
    api_search = f"/api/v1/spaces/{space.slug}/search/"

    def get(url, params=None, **headers):
        def call(x):
            _ok(browser.get(url, params(x) if params else None, **headers))

        return call

    def search_api(i):
        _ok(
            api.post(
                api_search,
                {"query": queries[i], "top_k": 10, "mode": "hybrid"},
                content_type="application/json",
            )
        )

    def memory_page(i):
        _ok(
            browser.get(
                reverse(
                    "web:memory",
                    kwargs={
                        "team_slug": space.team.slug,
                        "slug": space.slug,
                        "memory_id": ids[i % len(ids)],
                    },
                )
            )
        )

    def search_params(i):
        return {"q": queries[i], "mode": "hybrid", "top_k": 10}

    kinds = [
        ("space page, first page", get(space_url)),
        ("space page, by cursor", get(space_url, lambda i: {"cursor": cursor})),
        ("space page, user filter", get(space_url, lambda i: {"user_id": users[i]})),
        ("space results partial (htmx)", get(space_url, lambda i: {}, **htmx)),
        ("search partial (htmx), hybrid", get(space_url, search_params, **htmx)),
        ("search full page, hybrid", get(space_url, search_params)),
        ("API search, hybrid (same process)", search_api),
        ("memory page", memory_page),
    ]
    timings, counts = [], []
    for name, call in kinds:
        progress(f"  {name}")
        measure(name, call, range(args.warm))
        with CaptureQueriesContext(connection) as captured:
            call(0)
        counts.append([name, len(captured.captured_queries)])
        timings.append(measure(name, call, range(args.ops)))
    return timings, counts


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    harness.setup_django(args.pgdata)
    from django.conf import settings

    space, browser, api = prepare(args)
    load_before = harness.machine()
    progress("pages")
    timings, counts = pages(space, browser, api, args)
    by_name = {t.name: t for t in timings}
    api_search = by_name["API search, hybrid (same process)"]
    rows = [
        [t.name, len(t.latencies), t.errors, t.pct(50), t.pct(95), t.pct(99),
         t.per_second, count]
        for t, (_, count) in zip(timings, counts, strict=True)
    ]  # fmt: skip
    ui_rows = [
        [name, by_name[name].pct(50) - api_search.pct(50),
         by_name[name].pct(95) - api_search.pct(95)]
        for name in ("search partial (htmx), hybrid", "search full page, hybrid")
    ]  # fmt: skip
    out = [
        "# MemoryHub team app benchmark",
        "",
        f"- corpus: {args.n:,} memories, {args.users} users, space `{space.slug}`",
        "- server time: Django's request handler in this process (middleware, "
        "session, view, selectors, audit row, template), one request at a time",
        f"- embedder threads {settings.EMBEDDER_THREADS}; "
        f"hnsw.ef_search={settings.HNSW_EF_SEARCH}; top_k=10",
        f"- machine: {load_before} before, {harness.machine()} after",
        "",
        f"## Pages at N={args.n:,}",
        "",
        md_table(["page", "ok", "errors", "p50 ms", "p95 ms", "p99 ms", "req/s",
                  "SQL queries"], rows),
        "",
        "## Search: what the team app adds to the API's own search",
        "",
        md_table(["page", "p50 ms over API", "p95 ms over API"], ui_rows),
        "",
        "Targets: space page p95 <= 60 ms; search p95 <= 40 ms over the API's.",
    ]  # fmt: skip
    out += [
        f"- {t.name}: {t.errors} failed request(s); first: {t.first_error[:300]}"
        for t in timings
        if t.errors
    ]
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
