"""How much load does one machine take? Locust, headless, against a real
MemoryHub (gunicorn + the MCP process) on 127.0.0.1.

1. **Ladder**: the workload of ``locustfile.py`` (native search / add / get /
   list, mem0 search and add, MCP search; agents of ``--teams`` teams, each
   with its own key) at each concurrency of ``--users`` for ``--seconds``;
   a table per level with requests/s, p50/p95/p99 and errors per operation,
   and the highest level whose overall p99 stays <= 250 ms with no error.
2. **Database killed** (``--kill-at``): one more run at ``--kill-users``
   during which the embedded PostgreSQL is killed with SIGKILL and started
   again; every error must be a 503, and every add the server acknowledged
   (201 / 200) must be in the database afterwards — each id is checked.

Isolation: its own embedded PostgreSQL (``var/bench-load-pgdata``), its own
teams (a timestamp in their slugs), loopback only. Timings are never
asserted anywhere; this prints Markdown.

    .venv/bin/python benchmarks/load/run_load.py [--users 10 20 40 80]
        [--seconds 30] [--teams 5] [--kill-users 20] [--kill-at 15]
"""

from __future__ import annotations

import argparse
import csv
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks import harness
from benchmarks.harness import md_table, progress

DEFAULT_PGDATA = harness.REPO / "var" / "bench-load-pgdata"
LOCUSTFILE = Path(__file__).with_name("locustfile.py")
TARGET_P99_MS = 250.0


def bootstrap(teams: int, stamp: str) -> list[str]:
    """Teams with a ``default`` space of 200 memories each; their keys."""
    from accounts.actors import SYSTEM
    from memories import services

    keys = []
    for n in range(teams):
        spaces, secret = harness.bootstrap_space(
            team_slug=f"load-{stamp}-{n}", space_slugs=["default"]
        )
        services.memory_add_many(
            actor=SYSTEM,
            space=spaces[0],
            items=[
                {"content": f"user-{i % 50} likes item {i} of team {n}",
                 "user_id": f"user-{i % 50}"}
                for i in range(200)
            ],
        )  # fmt: skip
        keys.append(secret)
    return keys


def start_mcp(port: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "memories.mcp", "--host", harness.HOST,
         "--port", str(port)],
        cwd=harness.REPO, env=os.environ.copy(), stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip


def locust(url: str, users: int, seconds: int, prefix: Path, env: dict):
    """One headless Locust run; returns (stats rows, failures rows)."""
    command = [
        str(Path(sys.executable).with_name("locust")), "-f", str(LOCUSTFILE),
        "--headless", "-u", str(users), "-r", str(max(1, users // 2)),
        "-t", f"{seconds}s", "--host", url, "--csv", str(prefix),
        "--only-summary", "--stop-timeout", "5", "--loglevel", "ERROR",
    ]  # fmt: skip
    proc = subprocess.Popen(
        command, env={**os.environ, **env}, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    return proc


def read(prefix: Path):
    with open(f"{prefix}_stats.csv") as stats:
        rows = list(csv.DictReader(stats))
    with open(f"{prefix}_failures.csv") as failures:
        errors = list(csv.DictReader(failures))
    return rows, errors


def table(rows) -> str:
    out = []
    for row in rows:
        out.append(
            [
                row["Name"],
                int(row["Request Count"]),
                float(row["Requests/s"]),
                float(row["50%"] or 0),
                float(row["95%"] or 0),
                float(row["99%"] or 0),
                int(row["Failure Count"]),
            ]
        )
    return md_table(["operation", "requests", "req/s", "p50 ms", "p95 ms",
                     "p99 ms", "errors"], out)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pgdata", type=Path, default=DEFAULT_PGDATA)
    parser.add_argument("--users", type=int, nargs="*", default=[10, 20, 40, 80])
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--teams", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--kill-users", type=int, default=20)
    parser.add_argument("--kill-at", type=float, default=15.0)
    parser.add_argument("--kill-seconds", type=int, default=45)
    args = parser.parse_args()

    harness.setup_django(args.pgdata)
    from django.db import connection

    from memories.embedding import embed_texts
    from memories.models import Memory
    from memoryhub import embedded

    embed_texts(["warm up"])
    stamp = str(int(time.time()))
    progress(f"bootstrapping {args.teams} teams")
    keys = bootstrap(args.teams, stamp)
    connection.close()
    work = Path(tempfile.mkdtemp(prefix="bench-load-"))
    mcp_port = harness.free_port()
    mcp = start_mcp(mcp_port)
    env = {
        "LOAD_KEYS": ",".join(keys),
        "LOAD_MCP_URL": f"http://{harness.HOST}:{mcp_port}/mcp",
    }
    out = [
        "# Load: Locust against one machine",
        "",
        f"Machine: {harness.machine()}. gunicorn {args.workers} workers x "
        f"{args.threads} threads + the MCP process; {args.teams} teams, 200 "
        "memories each; agents think 0.2-0.6 s between calls.",
        "",
    ]
    best = None
    try:
        with harness.Server(workers=args.workers, threads=args.threads) as server:
            time.sleep(2)  # the MCP process loads its model too
            for users in args.users:
                progress(f"{users} users for {args.seconds} s")
                prefix = work / f"u{users}"
                locust(server.url, users, args.seconds, prefix, env).wait()
                rows, errors = read(prefix)
                total = next(r for r in rows if r["Name"] == "Aggregated")
                p99 = float(total["99%"] or 0)
                failed = int(total["Failure Count"])
                if p99 <= TARGET_P99_MS and failed == 0:
                    best = users
                out += [f"## {users} concurrent agents", "", table(rows), ""]
                if errors:
                    out += ["Errors: " + "; ".join(
                        f"{e['Name']}: {e['Error']} x{e['Occurrences']}" for e in errors
                    ), ""]  # fmt: skip
            out += [
                f"Highest concurrency with p99 <= {TARGET_P99_MS:g} ms and no "
                f"error: **{best if best is not None else 'none of those tried'}**.",
                "",
            ]
            progress(f"database kill run: {args.kill_users} users")
            acks = work / "acks.txt"
            prefix = work / "kill"
            proc = locust(
                server.url, args.kill_users, args.kill_seconds, prefix,
                {**env, "LOAD_ACKS": str(acks)},
            )  # fmt: skip
            time.sleep(args.kill_at)
            pid = int((Path(embedded._server.pgdata) / "postmaster.pid")
                      .read_text().split()[0])  # fmt: skip
            os.kill(pid, signal.SIGKILL)
            killed = time.monotonic()
            time.sleep(1.0)
            new_pid = embedded.restart_if_down()
            back = time.monotonic() - killed
            proc.wait()
            rows, errors = read(prefix)
            ids = {line.strip() for line in acks.read_text().splitlines() if line}
            connection.close()
            found = 0
            id_list = sorted(ids)
            for start in range(0, len(id_list), 1000):
                found += Memory.objects.filter(
                    pk__in=id_list[start : start + 1000]
                ).count()
            non_503 = [e for e in errors if "503" not in e["Error"]]
            out += [
                f"## Database killed once ({args.kill_users} agents, "
                f"{args.kill_seconds} s; SIGKILL at {args.kill_at:g} s, started "
                f"again {back:.1f} s later, pid {new_pid})",
                "",
                table(rows),
                "",
                "Errors: "
                + (
                    "; ".join(
                        f"{e['Name']}: {e['Error']} x{e['Occurrences']}" for e in errors
                    )
                    or "none"
                ),
                "",
                f"Errors other than 503: {len(non_503)}. Acknowledged adds: "
                f"{len(ids)}; found in the database afterwards: {found}; lost: "
                f"{len(ids) - found}.",
                "",
            ]
    finally:
        mcp.terminate()
        mcp.wait(timeout=30)
    print("\n".join(out))


if __name__ == "__main__":
    main()
