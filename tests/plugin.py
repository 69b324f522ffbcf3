"""Loaded with ``-p tests.plugin`` before Django: test-only environment.

Tests never read ``var/local.env``: they get their own throwaway secrets, an
eager Celery (real-worker tests opt out), and a separate embedded PostgreSQL
data directory so they never touch the quickstart's data.
"""

import base64
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

os.environ["MEMORYHUB_TESTING"] = "true"
os.environ.setdefault("MEMORYHUB_SECRET_KEY", "test-secret-key-not-for-production")
os.environ.setdefault(
    "MEMORYHUB_MASTER_KEYS",
    "test1:" + base64.urlsafe_b64encode(b"\x01" * 32).decode(),
)
os.environ.setdefault("MEMORYHUB_EMBEDDED_PGDATA", str(ROOT / "var" / "pgdata-test"))
os.environ.setdefault("MEMORYHUB_CELERY_EAGER", "true")
# One test database per pytest process, so parallel runs on one embedded
# server (several developers, or CI beside a dev run) never collide.
os.environ.setdefault("MEMORYHUB_TEST_DB_NAME", f"test_memoryhub_{os.getpid()}")
os.environ.setdefault("MEMORYHUB_VAR_DIR", str(ROOT / "var" / "test"))
# The exported ONNX model (``make install`` puts it in var/models) is shared:
# tests embed with the same int8 model the service uses.
os.environ.setdefault("MEMORYHUB_MODEL_DIR", str(ROOT / "var" / "models"))
os.environ["MEM0_TELEMETRY"] = "False"
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"


# --- The whole run's logs carry no planted content ------------------------------
#
# Tests plant LOG_MARKER in memory content, metadata, queries and extraction
# messages (tests/core/test_logs.py, the real Celery worker and gunicorn
# tests). Everything any logger of this process emits during the run goes to
# one file, rendered as production renders it; at the end that file and the
# log files of every process the tests started (Celery workers, gunicorn,
# the launcher; all under pytest's temporary directory) are scanned, and a
# line holding the marker fails the run.

LOG_MARKER = "zqlogmarker"
_suite_log = None


def pytest_configure(config):
    import logging

    global _suite_log
    if hasattr(config, "workerinput"):  # an xdist worker: the controller scans
        return
    path = Path(os.environ["MEMORYHUB_VAR_DIR"]) / f"suite-{os.getpid()}.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, mode="w", encoding="utf-8")
    handler.setLevel(logging.DEBUG)
    _suite_log = (handler, path)
    logging.getLogger().addHandler(handler)


def pytest_sessionstart(session):
    # Django's LOGGING is applied when Django sets up (after configure):
    # render like production from here on.
    if _suite_log is None:
        return
    from memoryhub import logs

    handler, _ = _suite_log
    handler.setFormatter(logs.formatter("json"))
    handler.addFilter(logs.RequestIdFilter())


def pytest_sessionfinish(session, exitstatus):
    import logging

    if _suite_log is None:
        return
    handler, path = _suite_log
    handler.flush()
    files = [path]
    basetemp = session.config._tmp_path_factory.getbasetemp()
    files += sorted(p for p in basetemp.rglob("*.log") if p.is_file())
    found = []
    for file in files:
        with file.open(errors="replace") as lines:
            found += [
                f"{file}: {line.strip()[:300]}" for line in lines if LOG_MARKER in line
            ]
    logging.getLogger().removeHandler(handler)
    handler.close()
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter:
        reporter.ensure_newline()
    if found:
        if reporter:
            reporter.write_line(
                f"planted content ({LOG_MARKER}) reached the logs:", red=True
            )
            for line in found[:20]:
                reporter.write_line("  " + line)
        session.exitstatus = 1
    elif reporter:
        reporter.write_line(
            f"log scan: {len(files)} log files, no planted content ({LOG_MARKER})"
        )
