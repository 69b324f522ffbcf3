"""Embedders: the local model, the OpenAI-compatible client, the process singleton."""

import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from memories import embedders
from memories.embedders import (
    DIMENSIONS,
    FP32_FILE,
    INT8_FILE,
    Embedder,
    EmbedderError,
    LocalEmbedder,
    OpenAIEmbedder,
    get_embedder,
    reset_embedder,
    resolve_backend,
)
from memories.embedders.cli import STAMP_NAME, export
from memories.embedders.local import OnnxEncoder

# --- the OpenAI-compatible client, against a real local HTTP server ------------


class FakeEmbeddings(BaseHTTPRequestHandler):
    """Answers POST /v1/embeddings with fixed vectors, or a scripted failure."""

    def do_POST(self):
        server = self.server
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        server.requests.append({"body": body, "headers": dict(self.headers)})
        if server.failures:
            status = server.failures.pop(0)
            if status == "slow":
                time.sleep(1)
                status = 200
            else:
                # Echo the input, as some servers do: it must not reach errors.
                return self.reply(status, {"error": {"message": body["input"]}})
        if self.path != "/v1/embeddings":
            return self.reply(404, {})
        dims = server.dims or body.get("dimensions", 1536)
        data = [
            # Unnormalised, in reverse order: the client must sort and scale.
            {"index": i, "embedding": [float(i + 1)] * dims}
            for i in reversed(range(len(body["input"])))
        ]
        return self.reply(200, {"data": data, "model": body["model"]})

    def reply(self, status, payload):
        raw = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *args):
        pass


@pytest.fixture
def api():
    """A local /v1/embeddings server on 127.0.0.1 with a scriptable behaviour."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeEmbeddings)
    server.requests, server.failures, server.dims = [], [], None
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    server.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    yield server
    server.shutdown()
    server.server_close()


def test_openai_embedder_batches_sorts_and_normalises(api):
    """Batches of batch_size, vectors in input order, unit length, 384 dims."""
    embedder = OpenAIEmbedder(url=api.url, api_key="sk-test", batch_size=2)
    vectors = embedder.embed(["a", "b", "c", "d", "e"])
    assert vectors.shape == (5, DIMENSIONS)
    assert vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0)
    assert [len(r["body"]["input"]) for r in api.requests] == [2, 2, 1]
    first = api.requests[0]
    assert first["body"]["dimensions"] == DIMENSIONS
    assert first["body"]["model"] == "text-embedding-3-small"
    assert first["headers"]["Authorization"] == "Bearer sk-test"
    assert embedder.embed_one("x").shape == (DIMENSIONS,)
    assert isinstance(embedder, Embedder)


def test_openai_embedder_accepts_the_full_embeddings_url(api):
    """A URL that already ends in /embeddings is used as is."""
    embedder = OpenAIEmbedder(url=api.url + "/embeddings/")
    assert embedder.embed(["a"]).shape == (1, DIMENSIONS)


@pytest.mark.parametrize(
    ("status", "hint"),
    [
        (401, "check MEMORYHUB_OPENAI_EMBEDDER_KEY"),
        (404, "check MEMORYHUB_OPENAI_EMBEDDER_URL"),
        (400, "supports dimensions=384"),
    ],
)
def test_openai_errors_are_actionable_and_never_echo_content(api, status, hint):
    """The message names the setting to fix and leaves the text out."""
    api.failures.append(status)
    embedder = OpenAIEmbedder(url=api.url, retries=0)
    with pytest.raises(EmbedderError) as caught:
        embedder.embed(["my secret diary entry"])
    assert f"HTTP {status}" in caught.value.message
    assert hint in caught.value.message
    assert "diary" not in str(caught.value)
    assert caught.value.status == 503


def test_openai_retries_server_errors(api):
    """A 503 followed by success is retried transparently."""
    api.failures.extend([503, 500])
    vectors = OpenAIEmbedder(url=api.url, retries=2).embed(["a"])
    assert vectors.shape == (1, DIMENSIONS)
    assert len(api.requests) == 3


def test_openai_wrong_dimensions_are_refused(api):
    """A model that ignores ``dimensions`` is reported, not stored."""
    api.dims = 1536
    with pytest.raises(EmbedderError, match="returned 1536-dimensional vectors"):
        OpenAIEmbedder(url=api.url).embed(["a"])


def test_openai_timeouts_and_unreachable_endpoints(api):
    """Timeouts and connection errors become EmbedderError."""
    api.failures.append("slow")
    slow = OpenAIEmbedder(url=api.url, timeout=0.2, retries=0)
    with pytest.raises(EmbedderError, match="timed out"):
        slow.embed(["a"])
    closed = OpenAIEmbedder(url="http://127.0.0.1:9/v1", retries=0)
    with pytest.raises(EmbedderError, match="Cannot reach"):
        closed.embed(["a"])


def test_openai_requires_a_url():
    """An unset URL fails at construction with the variable to set."""
    with pytest.raises(EmbedderError, match="MEMORYHUB_OPENAI_EMBEDDER_URL"):
        OpenAIEmbedder(url="")


def test_openai_empty_input_sends_nothing(api):
    """embed([]) is an empty array and no request."""
    assert OpenAIEmbedder(url=api.url).embed([]).shape == (0, DIMENSIONS)
    assert api.requests == []


# --- the process-wide embedder -------------------------------------------------


class CountingEmbedder:
    """Stands in for a model; counts how often one was built."""

    dimensions = DIMENSIONS
    name = "counting"
    built = 0

    def __init__(self):
        time.sleep(0.05)  # widen the race window
        type(self).built += 1

    def embed(self, texts):
        return np.zeros((len(texts), DIMENSIONS), dtype=np.float32)

    def embed_one(self, text):
        return self.embed([text])[0]


@pytest.fixture
def fresh(monkeypatch):
    """No embedder yet; building one makes a CountingEmbedder."""
    CountingEmbedder.built = 0
    monkeypatch.setattr(embedders, "build_embedder", CountingEmbedder)
    reset_embedder()
    yield
    reset_embedder()


def test_get_embedder_builds_once_across_threads(fresh):
    """Concurrent first calls share one instance."""
    seen = []
    threads = [
        threading.Thread(target=lambda: seen.append(get_embedder())) for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert CountingEmbedder.built == 1
    assert len({id(e) for e in seen}) == 1
    assert get_embedder() is seen[0]


def test_a_forked_child_builds_its_own_embedder(fresh, monkeypatch):
    """The pid check rebuilds after fork (torch/ORT state is not fork-safe)."""
    first = get_embedder()
    monkeypatch.setattr(embedders, "_embedder_pid", os.getpid() + 1)
    assert get_embedder() is not first
    assert CountingEmbedder.built == 2


def test_reset_embedder_installs_a_replacement(fresh):
    """Tests can install their own embedder."""
    replacement = CountingEmbedder()
    reset_embedder(replacement)
    assert get_embedder() is replacement


def test_settings_choose_the_embedder(settings, api):
    """settings.EMBEDDER picks the implementation; unknown values are refused."""
    settings.EMBEDDER = "openai"
    settings.OPENAI_EMBEDDER_URL = api.url
    assert isinstance(embedders.build_embedder(), OpenAIEmbedder)
    settings.EMBEDDER = "magic"
    with pytest.raises(EmbedderError, match="set MEMORYHUB_EMBEDDER to local"):
        embedders.build_embedder()


# --- backend selection and the local model --------------------------------------


def test_the_hub_is_switched_off():
    """Importing the module forces offline mode for Hugging Face libraries."""
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    assert os.environ["TRANSFORMERS_OFFLINE"] == "1"


def test_auto_prefers_int8_then_fp32_then_torch(tmp_path):
    """auto picks the fastest exported model present."""
    assert resolve_backend("auto", tmp_path) == ("torch", None)
    (tmp_path / "onnx").mkdir()
    (tmp_path / "onnx" / FP32_FILE).touch()
    assert resolve_backend("auto", tmp_path)[0] == "onnx"
    (tmp_path / "onnx" / INT8_FILE).touch()
    assert resolve_backend("auto", tmp_path) == (
        "onnx-int8",
        tmp_path / "onnx" / INT8_FILE,
    )
    assert resolve_backend("torch", tmp_path) == ("torch", None)


def test_explicit_backends_need_their_export(tmp_path):
    """Asking for ONNX without an export says how to make one."""
    with pytest.raises(EmbedderError, match="make model"):
        resolve_backend("onnx-int8", tmp_path)
    with pytest.raises(EmbedderError, match="one of: auto, onnx-int8"):
        resolve_backend("gpu", tmp_path)


def test_a_bad_model_path_is_reported(tmp_path):
    """MEMORYHUB_EMBEDDER_MODEL_PATH must be a sentence-transformers directory."""
    with pytest.raises(EmbedderError, match="not a sentence-transformers model"):
        LocalEmbedder(model_path=tmp_path)


@pytest.fixture(scope="module")
def local():
    """The real model on the best backend available (torch if not exported)."""
    return LocalEmbedder()


@pytest.mark.slow
def test_local_embeddings_are_unit_vectors_that_rank_meaning(local):
    """Paraphrases are closer than unrelated sentences; batching changes nothing."""
    texts = [
        "I am allergic to peanuts.",
        "Peanuts give me an allergic reaction.",
        "The train to Berlin leaves at seven.",
    ]
    vectors = local.embed(texts)
    assert vectors.shape == (3, DIMENSIONS)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.3
    many = local.embed(texts * 30)  # 90 texts: two batches
    assert np.allclose(many[::3][:30], vectors[0], atol=0.02)
    assert local.embed_one(texts[2]) @ vectors[2] > 0.99
    assert local.embed([]).shape == (0, DIMENSIONS)


@pytest.mark.slow
def test_one_text_is_tokenized_as_in_a_batch(local):
    """A single text (tokenized alone) gets the vector it gets in a batch,
    truncation and non-ASCII text included."""
    assert isinstance(local.model, OnnxEncoder)  # what `make model` exports
    for text in ("I am allergic to peanuts.", "héllo wörld 🙂 日本語", "long " * 600):
        alone = local.model._batch([text])[0]
        assert np.allclose(alone, local.model._batch([text, text])[0], atol=1e-6)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore")  # torch's ONNX tracer deprecation noise
def test_export_is_offline_idempotent_and_checks_int8_quality(tmp_path, capsys):
    """export writes fp32 + int8 ONNX and a stamp; a second run does nothing."""
    report = export(root=tmp_path)
    target = tmp_path / embedders.MODEL_NAME / "onnx"
    assert (target / FP32_FILE).exists()
    assert report["onnx"]["mean"] > 0.999
    assert report["int8_kept"] == (target / INT8_FILE).exists()
    assert report["onnx-int8"]["mean"] >= 0.98
    assert (tmp_path / STAMP_NAME).exists()
    assert not list(tmp_path.glob(".*.tmp-*"))
    capsys.readouterr()
    assert export(root=tmp_path) == report
    assert "already exported" in capsys.readouterr().out
    int8 = LocalEmbedder(export_dir=tmp_path / embedders.MODEL_NAME)
    assert int8.backend == "onnx-int8"
    assert int8.embed_one("hello").shape == (DIMENSIONS,)
