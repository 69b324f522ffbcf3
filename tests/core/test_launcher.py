"""``make run``'s supervisor keeps the stack up: a process that exits is
started again after a backoff and says why; one that keeps failing stops
everything, named; the embedded PostgreSQL is started again if it dies."""

import os
import signal
import subprocess
import sys
import textwrap

from memoryhub.launcher import Child, Supervisor


def _run(supervisor, seconds: float):
    """Supervise for at most ``seconds``; returns what ``wait`` returned."""
    import threading

    result = {}
    thread = threading.Thread(target=lambda: result.update(out=supervisor.wait()))
    thread.start()
    thread.join(timeout=seconds)
    if thread.is_alive():
        supervisor.stopping.set()
        thread.join()
    return result.get("out")


def test_a_child_that_exits_is_started_again_and_one_that_keeps_failing_stops_all(
    capsys,
):
    steady = Child("steady", [sys.executable, "-c", "import time; time.sleep(60)"])
    flaky = Child("flaky", [sys.executable, "-c", "import sys; sys.exit(3)"])
    supervisor = Supervisor(
        [steady, flaky], stop_timeout=5, backoff=0.05, max_failures=4
    )
    supervisor.start()
    try:
        failed = _run(supervisor, 30)
        first_steady = steady.proc.pid
        assert failed is flaky
        assert steady.running and steady.proc.pid == first_steady  # untouched
    finally:
        supervisor.stop()
    out = capsys.readouterr().out
    assert "flaky exited unexpectedly (exit code 3); starting it again in 0.05 s" in out
    assert out.count("flaky started again") == 3
    assert "flaky exited 4 times within 60 s (last: exit code 3); giving up" in out
    assert not steady.running


def test_a_killed_child_comes_back(capsys):
    web = Child("web", [sys.executable, "-c", "import time; time.sleep(60)"])
    supervisor = Supervisor([web], stop_timeout=5, backoff=0.05)
    supervisor.start()
    try:
        first = web.proc.pid
        os.kill(first, signal.SIGKILL)
        assert _run(supervisor, 1.5) is None  # still supervising, nothing gave up
        assert web.running and web.proc.pid != first
    finally:
        supervisor.stop()
    assert "web exited unexpectedly (killed by SIGKILL)" in capsys.readouterr().out


def test_the_embedded_database_is_started_again_after_sigkill(tmp_path):
    """In a child process (the server's handle lives there): start the
    embedded server, kill its postmaster, restart_if_down brings it back."""
    script = textwrap.dedent(
        f"""
        import os, signal, time
        from pathlib import Path
        import psycopg
        from memoryhub import embedded
        url = embedded.embedded_database_url(Path({str(tmp_path / "pgdata")!r}))
        assert embedded.restart_if_down() is None  # running: nothing to do
        pid = int((Path({str(tmp_path / "pgdata")!r}) / "postmaster.pid")
                  .read_text().split()[0])
        os.kill(pid, signal.SIGKILL)
        time.sleep(1)
        new = embedded.restart_if_down()
        assert new and new != pid, (new, pid)
        print(psycopg.connect(url).execute("select 41 + 1").fetchone()[0])
        """
    )
    env = {
        **os.environ,
        "XDG_RUNTIME_DIR": str(tmp_path / "run"),
        "MEMORYHUB_EMBEDDED_SHARED_BUFFERS": "128MB",
    }
    done = subprocess.run(  # noqa: S603 (fixed argv)
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().endswith("42")
