"""The supervisor behind ``make run``: the whole quickstart stack in one terminal.

1. Import settings. With ``DATABASE_URL`` unset this starts (or joins) the
   embedded PostgreSQL; this process keeps the handle for its whole life, so
   the database outlives every child and stops after the last of them.
2. Pre-flight: the database has pgvector (else exit 2 with the fix) and the
   web port is free.
3. ``migrate``, ``bootstrap`` (prints secrets only when it creates them),
   ``collectstatic``.
4. Start the children — web (gunicorn), worker and beat (Celery) — each in
   its own process group, its output prefixed with its name. On Linux each
   child also gets SIGTERM if this process dies without cleaning up.
5. Supervise. A child that exits on its own is started again after a
   backoff (1 s, doubling to 30 s), with a line saying how it ended; one
   that fails ``MAX_FAST_FAILURES`` times within ``RESTART_WINDOW`` seconds
   stops everything, and the launcher exits 1 naming it. The embedded
   PostgreSQL is watched too and started again if it dies (the processes
   answer 503 meanwhile and reconnect by themselves). Ctrl-C, SIGTERM or
   SIGHUP sends SIGTERM to every child, waits up to
   ``MEMORYHUB_STOP_TIMEOUT`` seconds, then kills what is left; a second
   Ctrl-C kills at once.

Children are in their own process groups so that Ctrl-C in the terminal
reaches only this process: each child then gets exactly one, graceful
SIGTERM (a Celery worker hit by SIGINT and SIGTERM together would shut down
cold and abandon running tasks).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from memoryhub.env import env_int

BASE_DIR = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"

# Runs first in every child on Linux: ask the kernel for SIGTERM when the
# launcher dies (even by SIGKILL), then become the real program. ``-S`` keeps
# this interpreter start cheap; exec keeps the pid, so signals go straight on.
_PDEATHSIG_SHIM = (
    "import ctypes, os, signal, sys\n"
    "ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG\n"
    "if os.getppid() != int(sys.argv[1]):\n"
    "    sys.exit('launcher already gone')\n"
    "os.execv(sys.argv[2], sys.argv[2:])\n"
)


def say(message: str) -> None:
    """A line from the launcher itself."""
    sys.stdout.write(f"launcher | {message}\n")
    sys.stdout.flush()


RESTART_WINDOW = 60.0  # seconds in which failures count as "fast"
MAX_FAST_FAILURES = 5
BACKOFF_CAP = 30.0
DATABASE_CHECK_SECONDS = 2.0


@dataclass
class Child:
    """One supervised process."""

    name: str
    argv: list[str]
    proc: subprocess.Popen | None = None
    reader: threading.Thread | None = None
    failures: list[float] = field(default_factory=list)  # monotonic exit times
    restart_at: float | None = None  # when a child that exited starts again

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


def child_commands(port: int) -> list[Child]:
    """The processes ``make run`` supervises, in start order."""
    python = sys.executable
    web_workers = env_int("MEMORYHUB_WEB_WORKERS", 2, minimum=1)
    web_threads = env_int("MEMORYHUB_WEB_THREADS", 4, minimum=1)
    concurrency = env_int("MEMORYHUB_WORKER_CONCURRENCY", 2, minimum=1)
    children = [
        Child(
            "web",
            [
                python,
                "-m",
                "gunicorn",
                "memoryhub.wsgi:application",
                "--config",
                "python:memoryhub.gunicorn_conf",
                "--bind",
                f"{HOST}:{port}",
                "--workers",
                str(web_workers),
                "--threads",
                str(web_threads),
                "--graceful-timeout",
                "10",
                # No access log: it would print paths with their query strings
                # (search words); MemoryHub logs each request itself, by route.
                # gunicorn 27's control socket defaults to one path per user
                # (~/.gunicorn/gunicorn.ctl): two checkouts would fight over it.
                "--no-control-socket",
            ],
        ),
        Child(
            "worker",
            celery_worker_argv(
                hostname="worker@%h", options=["--concurrency", str(concurrency)]
            ),
        ),
        Child("beat", celery_beat_argv()),
    ]
    mcp = mcp_command(port)
    if mcp is not None:
        children.append(mcp)
    return children


def celery_beat_argv() -> list[str]:
    """``celery beat`` on the database scheduler (sync job schedules live in
    django-celery-beat's tables), as ``make run`` starts it and the tests do."""
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "memoryhub",
        "beat",
        "--loglevel",
        "INFO",
        "--scheduler",
        "django_celery_beat.schedulers:DatabaseScheduler",
        "--pidfile=",
    ]


def celery_worker_argv(*, hostname: str, options: list[str]) -> list[str]:
    """``celery worker`` on the ``default`` queue, as ``make run`` starts it.

    The real-worker tests start the same command (with their own ``options``),
    so what they exercise is what the launcher runs.
    """
    return [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "memoryhub",
        "worker",
        "--loglevel",
        "INFO",
        *options,
        "-Q",
        "default",
        "--hostname",
        hostname,
    ]


def mcp_command(port: int) -> Child | None:
    """The MCP endpoint process: its own ASGI server on ``MCP_PORT`` (8001).

    Streamable HTTP, stateless, JSON responses (see ``memories/mcp``); like
    the web process it binds to 127.0.0.1 only.
    """
    mcp_port = os.environ.get("MCP_PORT", "8001")
    if not mcp_port.isdigit() or mcp_port == str(port):
        raise SystemExit(
            f"MCP_PORT={mcp_port!r} must be a free port number other than PORT={port}"
        )
    python = sys.executable
    return Child(
        "mcp",
        [python, "-m", "memories.mcp", "--host", HOST, "--port", mcp_port],
    )


# --- set-up ------------------------------------------------------------------------


def setup_django() -> None:
    """Load settings (starting/joining the embedded database) and apps."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "memoryhub.settings")
    # The launcher's Django imports wait for setup_django(): importing settings
    # starts the embedded database, which main() reports on if it fails.
    import django

    django.setup()


def port_problem(port: int) -> str | None:
    """Why gunicorn could not bind ``HOST:port``, or None."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # gunicorn sets SO_REUSEADDR too: a port in TIME_WAIT is not "in use".
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError as exc:
            return (
                f"cannot listen on {HOST}:{port} ({exc.strerror}). Another "
                "`make run` or server is using it: stop it, or pick another port "
                "with `PORT=8100 make run`."
            )
    return None


def prepare() -> None:
    """migrate, bootstrap, collectstatic (all idempotent)."""
    from django.core.management import call_command

    say("applying database migrations...")
    call_command("migrate", interactive=False, verbosity=1)
    say("bootstrap (first operator, demo team, space and API key)...")
    call_command("bootstrap")
    call_command("collectstatic", interactive=False, verbosity=0)


def prepare_metrics_dir(settings) -> str:
    """One metrics directory for all children, so ``/metrics`` adds up every
    gunicorn worker's and the Celery worker's counters (prometheus-client's
    multiprocess mode); emptied at each start, as that mode asks."""
    from memoryhub.gunicorn_conf import PREPARED, empty_metrics_dir

    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or str(
        Path(settings.VAR_DIR) / "prometheus"
    )
    empty_metrics_dir(path)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    os.environ[PREPARED] = "1"  # gunicorn must not empty it under the others
    return path


def release_database() -> None:
    """Close this process's connections (and pool) before supervising.

    The launcher only keeps the embedded server's handle, not a connection.
    """
    from django.db import connections

    for conn in connections.all(initialized_only=True):
        conn.close()
        if hasattr(conn, "close_pool"):
            conn.close_pool()


# --- supervision ---------------------------------------------------------------


class Supervisor:
    """Starts children, pumps their output, stops them all together."""

    def __init__(
        self,
        children: list[Child],
        stop_timeout: int,
        *,
        backoff: float = 1.0,
        restart_window: float = RESTART_WINDOW,
        max_failures: int = MAX_FAST_FAILURES,
        watch_database=None,
    ) -> None:
        self.children = children
        self.stop_timeout = stop_timeout
        self.backoff = backoff
        self.restart_window = restart_window
        self.max_failures = max_failures
        # Returns the new pid when it had to start the database again.
        self.watch_database = watch_database
        self._database_checked = 0.0
        self.stopping = threading.Event()
        self.signals = 0
        self._out_lock = threading.Lock()
        self._width = max(len(c.name) for c in [*children, Child("launcher", [])])

    def on_signal(self, signum, frame) -> None:
        self.signals += 1
        if self.signals == 1:
            say(
                f"{signal.Signals(signum).name}: stopping everything "
                "(press Ctrl-C again to kill at once)..."
            )
        else:
            say("killing everything now")
            self.kill_all()
        self.stopping.set()

    def start(self) -> None:
        for child in self.children:
            self._spawn(child)
        # Readers start after the first forks: no thread runs while we fork.
        for child in self.children:
            self._read(child)

    def _spawn(self, child: Child) -> None:
        argv = child.argv
        if sys.platform.startswith("linux"):
            argv = [sys.executable, "-S", "-c", _PDEATHSIG_SHIM, str(os.getpid())]
            argv += child.argv
        child.proc = subprocess.Popen(  # noqa: S603 (our own argv, no shell)
            argv,
            cwd=BASE_DIR,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            process_group=0,
        )
        child.restart_at = None

    def _read(self, child: Child) -> None:
        child.reader = threading.Thread(
            target=self._pump, args=(child,), name=f"pump-{child.name}", daemon=True
        )
        child.reader.start()

    def _pump(self, child: Child) -> None:
        prefix = f"{child.name:<{self._width}} | ".encode()
        out = sys.stdout.buffer
        for line in iter(child.proc.stdout.readline, b""):
            with self._out_lock:
                out.write(
                    prefix + line if line.endswith(b"\n") else prefix + line + b"\n"
                )
                out.flush()

    def wait(self) -> Child | None:
        """Supervise until a signal asks to stop (None) or a child keeps
        failing (it): restart what exits, after a backoff."""
        while not self.stopping.wait(0.25):
            self._check_database()
            for child in self.children:
                if self._tend(child, time.monotonic()):
                    return child
        return None

    def _tend(self, child: Child, now: float) -> bool:
        """Restart ``child`` if due; True when it failed too often to go on."""
        if child.restart_at is not None:
            if now >= child.restart_at and not self.stopping.is_set():
                self._spawn(child)
                self._read(child)
                say(f"{child.name} started again")
            return False
        if child.running:
            return False
        how = describe_exit(child.proc.returncode)
        if child.reader is not None:
            child.reader.join(timeout=2)  # its last lines first
        child.failures = [t for t in child.failures if now - t < self.restart_window]
        child.failures.append(now)
        if len(child.failures) >= self.max_failures:
            say(
                f"{child.name} exited {len(child.failures)} times within "
                f"{self.restart_window:g} s (last: {how}); giving up"
            )
            return True
        delay = min(BACKOFF_CAP, self.backoff * 2 ** (len(child.failures) - 1))
        say(
            f"{child.name} exited unexpectedly ({how}); "
            f"starting it again in {delay:g} s"
        )
        child.restart_at = now + delay
        return False

    def _check_database(self) -> None:
        """Start the embedded database again if it died (``make run`` only)."""
        now = time.monotonic()
        if self.watch_database is None or now - self._database_checked < (
            DATABASE_CHECK_SECONDS
        ):
            return
        self._database_checked = now
        try:
            pid = self.watch_database()
        except Exception as exc:  # keep supervising; try again next time
            say(f"the embedded PostgreSQL is down and did not start again: {exc}")
            return
        if pid is not None:
            say(f"the embedded PostgreSQL had stopped; started it again (pid {pid})")

    def stop(self) -> None:
        """SIGTERM every child, wait, then SIGKILL what is left."""
        for child in reversed(self.children):
            if child.running:
                child.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout
        for child in self.children:
            try:
                child.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                say(f"{child.name} did not stop in {self.stop_timeout}s; killing it")
                self._killpg(child, signal.SIGKILL)
                child.proc.wait()
        # Leftovers of a group whose leader is gone (a pool process, a
        # gunicorn worker) would otherwise outlive us.
        for child in self.children:
            self._killpg(child, signal.SIGKILL)
        for child in self.children:
            if child.reader is not None:
                child.reader.join(timeout=2)

    def kill_all(self) -> None:
        for child in self.children:
            self._killpg(child, signal.SIGKILL)

    @staticmethod
    def _killpg(child: Child, sig: int) -> None:
        if child.proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.proc.pid, sig)


def announce_when_up(port: int, supervisor: Supervisor) -> None:
    """Print where to go once the web process answers ``/healthz``."""
    url = f"http://{HOST}:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not supervisor.stopping.is_set():
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    break
        except OSError:
            time.sleep(0.5)
    else:
        return
    for line in up_lines(url):
        say(line)


def up_lines(url: str) -> list[str]:
    """What ``make run`` prints once up: the team app's address first."""
    return [
        f"MemoryHub is up: open {url}/ and sign in (the team app)",
        f"operator console: {url}/admin/ · REST API: {url}/api/v1/ "
        f"(docs {url}/api/docs/)",
        f"health: {url}/healthz {url}/readyz — Ctrl-C stops everything",
    ]


def describe_exit(code: int) -> str:
    if code < 0:
        return f"killed by {signal.Signals(-code).name}"
    return f"exit code {code}"


def describe_database(settings) -> str:
    if settings.EMBEDDED_DATABASE:
        return f"embedded PostgreSQL in {settings.DATABASES['default']['HOST']}"
    return "DATABASE_URL"


def describe_broker(settings) -> str:
    if settings.EMBEDDED_BROKER:
        folder = settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"]
        return f"embedded (filesystem, {Path(folder).parent})"
    return "CELERY_BROKER_URL"


def main() -> int:
    from django.core.exceptions import ImproperlyConfigured

    port = env_int("PORT", 8000, minimum=1)
    stop_timeout = env_int("MEMORYHUB_STOP_TIMEOUT", 20, minimum=1)
    say(f"starting MemoryHub; the team app will be at http://{HOST}:{port}/")
    os.environ.setdefault("MEMORYHUB_LOG_FORMAT", "console")  # a terminal
    try:
        setup_django()
    except ImproperlyConfigured as exc:
        say(f"configuration error: {exc}")
        return 2
    except (OSError, subprocess.SubprocessError) as exc:
        say(
            f"the embedded PostgreSQL did not start: {exc}. See its log in "
            "var/pgdata/log and README.md, Troubleshooting."
        )
        return 2
    from django.conf import settings
    from django.core.management.base import CommandError

    from memoryhub.checks import pgvector_problem

    say(f"database: {describe_database(settings)}; broker: {describe_broker(settings)}")
    mcp_port = os.environ.get("MCP_PORT", "8001")
    problem = (
        pgvector_problem()
        or port_problem(port)
        or (port_problem(int(mcp_port)) if mcp_port.isdigit() else None)
    )
    if problem:
        say(problem)
        return 2
    try:
        prepare()
    except CommandError as exc:
        say(f"set-up failed: {exc}")
        return 2
    release_database()

    watch = None
    if settings.EMBEDDED_DATABASE:
        from memoryhub.embedded import restart_if_down as watch
    metrics_dir = prepare_metrics_dir(settings)
    say(f"metrics: /metrics (token MEMORYHUB_METRICS_TOKEN), shared in {metrics_dir}")
    supervisor = Supervisor(child_commands(port), stop_timeout, watch_database=watch)
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, supervisor.on_signal)
    supervisor.start()
    threading.Thread(
        target=announce_when_up, args=(port, supervisor), daemon=True
    ).start()
    failed = supervisor.wait()
    if failed is not None:
        others = [c.name for c in supervisor.children if c is not failed]
        say(f"stopping {', '.join(others)}")
    supervisor.stop()
    if failed is not None:
        say(f"stopped because {failed.name} failed (see its output above)")
        return 1
    say("stopped cleanly")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # Ctrl-C before the children were started
        say("interrupted")
        sys.exit(130)
