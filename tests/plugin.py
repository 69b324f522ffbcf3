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
