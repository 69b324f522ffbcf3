"""The end-of-run scan of every log (tests/plugin.py) fails a run whose logs
hold the planted marker, and passes one whose logs do not."""

import subprocess
import sys
from pathlib import Path

import pytest

from tests.plugin import LOG_MARKER

ROOT = Path(__file__).resolve().parents[2]

LEAKY = f"""
import logging

def test_leaks(tmp_path):
    logging.getLogger("memories").warning("content: {LOG_MARKER} tea")
    (tmp_path / "worker.log").write_text("a worker line\\n")
"""
CLEAN = """
import logging

def test_clean(tmp_path):
    logging.getLogger("memories").warning("memory 42 added")
    (tmp_path / "worker.log").write_text("a worker line\\n")
"""


def _run(tmp_path: Path, source: str) -> subprocess.CompletedProcess:
    test = tmp_path / "test_sample.py"
    test.write_text(source)
    return subprocess.run(  # noqa: S603 (fixed argv)
        [
            sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
            "-c", str(ROOT / "pytest.ini"), "--rootdir", str(ROOT),
            "--basetemp", str(tmp_path / "base"), str(test),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )  # fmt: skip


@pytest.mark.slow
def test_a_run_whose_logs_hold_the_marker_fails(tmp_path):
    leaky = _run(tmp_path, LEAKY)
    assert leaky.returncode == 1, leaky.stdout + leaky.stderr
    assert "1 passed" in leaky.stdout
    assert "planted content (zqlogmarker) reached the logs" in leaky.stdout
    clean = _run(tmp_path, CLEAN)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "no planted content" in clean.stdout
