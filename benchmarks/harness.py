"""Shared plumbing for the benchmarks: environment, Django, server, HTTP, stats.

Benchmarks run on their own embedded PostgreSQL (``var/bench-pgdata`` unless
``--pgdata`` or ``DATABASE_URL`` says otherwise), so they never touch the
development database. ``setup_django`` migrates it; ``bootstrap_space``
creates the team, a space and a key through the real services; ``Server``
starts gunicorn on a free 127.0.0.1 port with the same environment; ``Api``
is a thin client for the ``/api/v1`` contract.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

DEFAULT_PGDATA = REPO / "var" / "bench-pgdata"
CACHE_DIR = REPO / "var" / "bench-cache"
HOST = "127.0.0.1"


# --- environment and Django --------------------------------------------------------


def prepare_env(pgdata: Path) -> None:
    """Environment shared by this process and the gunicorn it starts."""
    from memoryhub import localenv

    localenv.ensure()  # quickstart secrets in var/local.env, if missing
    os.environ["DJANGO_SETTINGS_MODULE"] = "memoryhub.settings"
    os.environ["MEMORYHUB_EMBEDDED_PGDATA"] = str(pgdata)
    # A 1M-memory corpus: keep the HNSW index in shared buffers.
    os.environ.setdefault("MEMORYHUB_EMBEDDED_SHARED_BUFFERS", "4GB")
    # The per-key throttle (6000/min by default) would cap every benchmark.
    os.environ.setdefault("MEMORYHUB_API_KEY_RATE", "100000000/min")
    os.environ.setdefault("MEMORYHUB_LOG_LEVEL", "WARNING")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def setup_django(pgdata: Path = DEFAULT_PGDATA) -> None:
    """Configure, start (embedded Postgres) and migrate; idempotent."""
    prepare_env(pgdata)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", interactive=False, verbosity=0)


def bootstrap_space(*, team_slug: str, space_slugs: Sequence[str]) -> tuple[list, str]:
    """Get or create the team and spaces; return them with a new key's secret."""
    from accounts import services as account_services
    from accounts.actors import SYSTEM
    from accounts.models import Team
    from memories import services as memory_services
    from memories.models import Space

    team = Team.objects.filter(slug=team_slug).first()
    if team is None:
        team = account_services.team_create(slug=team_slug, name="Benchmarks")
    spaces = []
    for slug in space_slugs:
        space = Space.objects.filter(
            team=team, slug=slug, shredded_at__isnull=True
        ).first()
        if space is None:
            space = memory_services.space_create(
                actor=SYSTEM, team=team, slug=slug, name=slug
            )
        spaces.append(space)
    _, secret = account_services.api_key_create(
        team=team, name=f"bench-{int(time.time())}", spaces=spaces
    )
    return spaces, secret


def database_url() -> str:
    """The libpq URL of the database Django uses (embedded or DATABASE_URL)."""
    from django.conf import settings

    return settings.DATABASE_URL


# --- the server ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


class Server:
    """gunicorn serving ``memoryhub.wsgi`` on a free loopback port.

    It runs in its own session, so stopping it stops its workers; nothing
    else is signalled.
    """

    def __init__(
        self, *, workers: int = 2, threads: int = 4, ready_timeout: float = 180
    ) -> None:
        self.workers, self.threads, self.ready_timeout = workers, threads, ready_timeout
        self.proc: subprocess.Popen | None = None
        self.url = ""
        fd, name = tempfile.mkstemp(prefix="bench-gunicorn-", suffix=".log")
        os.close(fd)
        self.log_path = Path(name)

    def __enter__(self) -> Server:
        import httpx

        port = free_port()
        self.url = f"http://{HOST}:{port}"
        command = [
            sys.executable, "-m", "gunicorn", "memoryhub.wsgi:application",
            "--bind", f"{HOST}:{port}", "--workers", str(self.workers),
            "--threads", str(self.threads), "--timeout", "300",
            "--graceful-timeout", "10", "--no-control-socket",
            # Phases that run in-process (mem0 set-up) leave the client's
            # pooled connections idle for minutes; gunicorn's 2 s keep-alive
            # would close them and the next request would see a reset.
            "--keep-alive", "600",
        ]  # fmt: skip
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                command, cwd=REPO, env=os.environ.copy(), stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"gunicorn exited ({self.proc.returncode}):\n{self.log_tail()}"
                )
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(
            f"gunicorn not ready after {self.ready_timeout}s:\n{self.log_tail()}"
        )

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(
            self.log_path.read_text(errors="replace").splitlines()[-lines:]
        )

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def __exit__(self, *exc) -> None:
        self.stop()


# --- the API client ------------------------------------------------------------------------


class ApiError(RuntimeError):
    """An unexpected HTTP status (message has method, path, status, body start)."""


class Api:
    """``/api/v1/spaces/<slug>/...`` with a bearer key (thread-safe client)."""

    def __init__(
        self, base_url: str, key: str, space: str, *, timeout: float = 300
    ) -> None:
        import httpx

        self.space = space
        self.client = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {key}"},
            timeout=timeout,
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=64),
        )
        self.prefix = f"/api/v1/spaces/{space}"

    def lean(self) -> LeanApi:
        """The same server, key and space through :class:`LeanApi`."""
        key = self.client.headers["Authorization"].split(" ", 1)[1]
        return LeanApi(str(self.client.base_url), key, self.space)

    def for_space(self, space: str) -> Api:
        """The same server and key, another space (shares the connection pool)."""
        other = object.__new__(Api)
        other.space, other.client, other.prefix = (
            space,
            self.client,
            f"/api/v1/spaces/{space}",
        )
        return other

    def _call(self, method: str, path: str, ok=(200,), **kwargs):
        response = self.client.request(method, self.prefix + path, **kwargs)
        if response.status_code not in ok:
            raise ApiError(
                f"{method} {self.prefix}{path} -> {response.status_code}: {response.text[:300]}"
            )
        return response.json()

    def health(self) -> None:
        """``GET /healthz`` (outside the key's prefix)."""
        response = self.client.get("/healthz")
        if response.status_code != 200:
            raise ApiError(f"GET /healthz -> {response.status_code}")

    def add(self, item: dict) -> dict:
        return self._call("POST", "/memories/", ok=(200, 201), json=item)

    def add_batch(self, items: list[dict]) -> list[dict]:
        return self._call(
            "POST", "/memories/batch/", ok=(200, 201, 207), json={"items": items}
        )["results"]

    def get(self, memory_id: str) -> dict:
        return self._call("GET", f"/memories/{memory_id}/")

    def list(self, **params) -> dict:
        return self._call("GET", "/memories/", params=params)

    def search(
        self,
        query: str,
        *,
        top_k: int = 10,
        mode: str = "hybrid",
        filters=None,
        ef_search: int | None = None,
    ) -> list:
        body = {"query": query, "top_k": top_k, "mode": mode}
        if filters:
            body["filters"] = filters
        if ef_search is not None:
            body["ef_search"] = ef_search
        return self._call("POST", "/search/", json=body)["results"]


class LeanApi:
    """The API's search and ``/healthz`` through Python's ``http.client`` on
    one keep-alive connection (one thread only).

    httpx, :class:`Api`'s client, spends CPU of its own on every request on
    this same two-core machine; this client spends little, so its figures
    come closer to what the server takes. Both are reported.
    """

    def __init__(self, base_url: str, key: str, space: str) -> None:
        import http.client
        from urllib.parse import urlsplit

        url = urlsplit(base_url)
        self.connection = http.client.HTTPConnection(url.hostname, url.port)
        self.headers = {
            "Authorization": f"Bearer {key}",
            "Content-Type": "application/json",
        }
        self.search_path = f"/api/v1/spaces/{space}/search/"

    def _call(self, method: str, path: str, body: bytes | None = None) -> bytes:
        self.connection.request(method, path, body, self.headers)
        response = self.connection.getresponse()
        data = response.read()
        if response.status != 200:
            raise ApiError(f"{method} {path} -> {response.status}: {data[:300]!r}")
        return data

    def search(self, query: str, *, top_k: int = 10, mode: str = "hybrid") -> list:
        body = {"query": query, "top_k": top_k, "mode": mode}
        return json.loads(
            self._call("POST", self.search_path, json.dumps(body).encode())
        )["results"]

    def health(self) -> None:
        self._call("GET", "/healthz")

    def close(self) -> None:
        self.connection.close()


# --- timing ---------------------------------------------------------------------------------


@dataclass
class Timing:
    """Latencies of one measured operation (seconds) and what it moved."""

    name: str
    latencies: list[float] = field(default_factory=list)
    wall: float = 0.0
    items: int = 0
    concurrency: int = 1
    errors: int = 0
    first_error: str = ""

    def pct(self, q: float) -> float:
        import numpy as np

        return (
            float(np.percentile(self.latencies, q)) * 1000
            if self.latencies
            else float("nan")
        )

    @property
    def per_second(self) -> float:
        return len(self.latencies) / self.wall if self.wall else float("nan")

    @property
    def items_per_second(self) -> float:
        return self.items / self.wall if self.wall else float("nan")


def measure(
    name: str,
    call: Callable[[object], object],
    inputs: Iterable,
    *,
    concurrency: int = 1,
) -> Timing:
    """Time ``call(x)`` for each input.

    An ``int`` returned by ``call`` is the number of items it moved (memories
    added); anything else counts as one. A call that raises is counted in
    ``errors`` (the first message is kept) and left out of the latencies, so
    one failed request does not throw away a long run.
    """
    inputs = list(inputs)
    timing = Timing(name, concurrency=concurrency)
    lock = threading.Lock()

    def one(x) -> None:
        began = time.perf_counter()
        try:
            moved = call(x)
        except Exception as exc:  # reported, not fatal: see the docstring
            with lock:
                timing.errors += 1
                timing.first_error = (
                    timing.first_error or f"{type(exc).__name__}: {exc}"
                )
            return
        elapsed = time.perf_counter() - began
        with lock:
            timing.latencies.append(elapsed)
            counted = isinstance(moved, int) and not isinstance(moved, bool)
            timing.items += moved if counted else 1

    began = time.perf_counter()
    if concurrency <= 1:
        for x in inputs:
            one(x)
    else:
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            list(pool.map(one, inputs))
    timing.wall = time.perf_counter() - began
    return timing


def int_list(text: str) -> list[int]:
    """``"100,200,400"`` as ``[100, 200, 400]`` (an argparse ``type``)."""
    return [int(value) for value in text.split(",")]


def md_table(headers: Sequence[str], rows: Iterable[Sequence]) -> str:
    """A Markdown table; floats get 4 significant figures at most."""

    def cell(value) -> str:
        if isinstance(value, float):
            if value != value:  # NaN
                return "-"
            return f"{value:.3f}" if abs(value) < 10 else f"{value:,.1f}"
        return str(value)

    lines = [
        "| " + " | ".join(headers) + " |",
        "|" + "|".join("---" for _ in headers) + "|",
    ]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def machine() -> str:
    """CPUs and load average: numbers from a busy machine are not comparable."""
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return f"{os.cpu_count()} CPUs, load average {load} (1/5/15 min)"


def progress(message: str) -> None:
    """Progress goes to stderr so stdout stays a clean Markdown report."""
    print(message, file=sys.stderr, flush=True)
