"""``python -m memories.embedders export|bench``: ONNX export and benchmarks.

Both read the environment only (``MEMORYHUB_MODEL_DIR``, else
``$MEMORYHUB_VAR_DIR/models``, else ``<repo>/var/models``), never Django
settings, so ``make install`` needs no secrets and no database.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import time
import warnings
from pathlib import Path

import numpy as np

from memories.embedders.base import EmbedderError
from memories.embedders.local import (
    FP32_FILE,
    INT8_FILE,
    MODEL_NAME,
    RUNNER_FILE,
    LocalEmbedder,
    load_model,
    model_root,
    source_model_path,
)

STAMP_NAME = ".exported"
MIN_INT8_COSINE = 0.98
EXPORT_FORMAT = 2  # bump when what export() writes changes: older exports redo


def export(*, root: Path | None = None, force: bool = False) -> dict:
    """Export ONNX fp32 + fused int8 into ``root``; idempotent, offline.

    The model is copied and exported in a scratch directory that replaces the
    previous export only once complete, so a crash never leaves half a model
    for ``auto`` to pick up. The int8 model is kept only if its mean cosine
    similarity to torch on :data:`PROBE_SENTENCES` is at least 0.98. An
    export of an older :data:`EXPORT_FORMAT` is redone.
    """
    # Heavy (torch): loaded only when exporting.
    from sentence_transformers import SentenceTransformer

    root = Path(root or model_root())
    stamp, target = root / STAMP_NAME, root / MODEL_NAME
    if stamp.exists() and (target / "onnx" / FP32_FILE).exists() and not force:
        report = json.loads(stamp.read_text() or "{}")
        if report.get("format") == EXPORT_FORMAT:
            print(f"already exported to {target} ({_describe(report)})")
            return report
    source = source_model_path()
    root.mkdir(parents=True, exist_ok=True)
    scratch = root / f".{MODEL_NAME}.tmp-{os.getpid()}"
    shutil.rmtree(scratch, ignore_errors=True)
    started = time.perf_counter()
    shutil.copytree(source, scratch, ignore=shutil.ignore_patterns(".git*"))
    onnx_model = SentenceTransformer(
        str(scratch), device="cpu", backend="onnx", local_files_only=True
    )
    onnx_model.save_pretrained(str(scratch))
    _write_runner_config(onnx_model, scratch / "onnx" / RUNNER_FILE)
    _quantize(scratch / "onnx")
    report = {
        "format": EXPORT_FORMAT,
        "seconds": round(time.perf_counter() - started, 1),
    }
    reference = load_model(source, scratch, None, 1)
    expected = reference.encode(PROBE_SENTENCES, normalize_embeddings=True)
    for key, file in (("onnx", FP32_FILE), ("onnx-int8", INT8_FILE)):
        model = load_model(source, scratch, scratch / "onnx" / file, 1)
        got = model.encode(PROBE_SENTENCES, normalize_embeddings=True)
        cosines = np.sum(np.asarray(got) * np.asarray(expected), axis=1)
        report[key] = {"mean": float(cosines.mean()), "min": float(cosines.min())}
    report["int8_kept"] = report["onnx-int8"]["mean"] >= MIN_INT8_COSINE
    if not report["int8_kept"]:
        (scratch / "onnx" / INT8_FILE).unlink()
    shutil.rmtree(target, ignore_errors=True)
    scratch.rename(target)
    stamp.write_text(json.dumps(report, indent=2) + "\n")
    print(f"exported to {target} ({_describe(report)})")
    return report


def _write_runner_config(model, path: Path) -> None:
    """Record what :class:`OnnxEncoder` must reproduce of the model's modules."""
    kinds = [type(module).__name__ for module in model]
    if kinds != ["Transformer", "Pooling", "Normalize"]:
        raise EmbedderError(
            f"unexpected sentence-transformers modules {kinds}; the ONNX runner "
            "supports Transformer + mean Pooling + Normalize models only"
        )
    config = {
        "max_seq_length": int(model.max_seq_length),
        "pooling": model[1].pooling_mode,
        "normalize": True,
    }
    path.write_text(json.dumps(config) + "\n")


def _quantize(directory: Path) -> None:
    """Write :data:`INT8_FILE`: fused transformer graph, int8 per-channel weights.

    ONNX Runtime's transformer optimizer fuses attention, layer norm and GELU;
    dynamic quantization then stores signed int8 weights per output channel
    (activations are quantized per call), which VNNI CPUs multiply natively.
    Per-tensor weights lost too much (cosine min 0.88 on the retrieval set).
    """
    # Heavy, and needed only for the export.
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers import optimizer

    fused = directory / "model_fused.onnx"
    model = optimizer.optimize_model(str(directory / FP32_FILE), model_type="bert")
    model.save_model_to_file(str(fused))
    try:
        quantize_dynamic(
            str(fused),
            str(directory / INT8_FILE),
            weight_type=QuantType.QInt8,
            per_channel=True,
            # Fused operators (com.microsoft domain) defeat shape inference.
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
    finally:
        fused.unlink(missing_ok=True)


def _describe(report: dict) -> str:
    """One line of export figures."""
    parts = [f"{report.get('seconds', '?')} s"]
    for key in ("onnx", "onnx-int8"):
        if key in report:
            figures = report[key]
            parts.append(
                f"{key} cosine to torch mean {figures['mean']:.4f} "
                f"min {figures['min']:.4f}"
            )
    if "int8_kept" in report:
        parts.append("int8 kept" if report["int8_kept"] else "int8 DROPPED (< 0.98)")
    return "; ".join(parts)


def bench(*, singles: int = 200, batch_texts: int = 512, threads: int = 1) -> None:
    """Print per-text latency, batched throughput and cosine to torch per backend.

    Throughput is measured twice: on the whole probe set (mixed lengths and
    languages, one long paragraph) and on its short English sentences, which
    look more like typical memories.
    """
    export_dir = model_root() / MODEL_NAME
    short = [text for text in PROBE_SENTENCES if len(text) < 80 and text.isascii()]
    reference = None
    print(
        f"{'backend':<10} {'p50 ms/text':>11} {'mean ms/text':>12} "
        f"{'mixed texts/s':>13} {'short texts/s':>13} {'cos mean':>8} {'cos min':>8}"
    )
    for backend in ("torch", "onnx", "onnx-int8"):
        try:
            embedder = LocalEmbedder(
                export_dir=export_dir, backend=backend, threads=threads
            )
        except EmbedderError as exc:
            print(f"{backend:<10} skipped: {exc}")
            continue
        vectors = embedder.embed(PROBE_SENTENCES)
        reference = vectors if reference is None else reference
        cosines = np.sum(vectors * reference, axis=1)
        for text in PROBE_SENTENCES[:10]:  # warm up
            embedder.embed_one(text)
        timings = []
        for i in range(singles):
            text = PROBE_SENTENCES[i % len(PROBE_SENTENCES)]
            started = time.perf_counter()
            embedder.embed_one(text)
            timings.append((time.perf_counter() - started) * 1000)
        rates = []
        for pool in (PROBE_SENTENCES, short):
            texts = [pool[i % len(pool)] for i in range(batch_texts)]
            started = time.perf_counter()
            embedder.embed(texts)
            rates.append(batch_texts / (time.perf_counter() - started))
        print(
            f"{backend:<10} {float(np.median(timings)):>11.2f} "
            f"{float(np.mean(timings)):>12.2f} {rates[0]:>13.0f} {rates[1]:>13.0f} "
            f"{float(cosines.mean()):>8.4f} {float(cosines.min()):>8.4f}"
        )


PROBE_SENTENCES = [
    "I prefer window seats on long flights.",
    "Alice is allergic to peanuts and shellfish.",
    "The quarterly report is due on the last Friday of March.",
    "My favourite programming language is Python, but I use Go at work.",
    "Remind me to water the tomatoes every other evening.",
    "Bob's daughter starts university in Edinburgh this autumn.",
    "The API returns HTTP 429 when the rate limit is exceeded.",
    "She likes her coffee black, no sugar.",
    "We moved the standup to 9:30 because of the time-zone change.",
    "The server room temperature should stay below 24 degrees Celsius.",
    "He is training for a marathon in October.",
    "Use the staging database for all migration rehearsals.",
    "The cat's name is Miso and she is seven years old.",
    "Vegetarian, but eats fish occasionally.",
    "Budget for the offsite is capped at 15,000 euros.",
    "Password rotation happens every ninety days.",
    "The customer prefers email over phone calls.",
    "Our deployment pipeline runs on GitHub Actions.",
    "J'aime les randonnées en montagne le week-end.",
    "Der Zug nach Berlin fährt um 7 Uhr ab.",
    "El proyecto se entrega el próximo lunes.",
    "東京の天気は明日晴れるでしょう。",
    "Invoice #4471 was paid twice; refund the duplicate.",
    "def add(a, b): return a + b",
    "SELECT id FROM users WHERE email = 'x@example.com';",
    "Likes jazz, especially Coltrane and Bill Evans.",
    "The meeting with the legal team was postponed indefinitely.",
    "Take the left fork after the bridge to reach the cabin.",
    "Prefers dark mode in every application.",
    "He broke his wrist skiing last winter.",
    "The office Wi-Fi password changes monthly.",
    "Kubernetes pods restart when liveness probes fail.",
    "Allergic to penicillin.",
    "Her birthday is on the 14th of July.",
    "The contract renewal includes a 3% price increase.",
    "Always CC the project manager on vendor emails.",
    "Running out of disk space on the build agents again.",
    "My sister lives in Lisbon and works as an architect.",
    "Don't schedule meetings on Wednesday afternoons.",
    "The model was fine-tuned on customer support transcripts.",
    "ok",
    "Thanks!",
    "Book a table for four at the Italian place near the station.",
    "The printer on the third floor jams with recycled paper.",
    "Uses a standing desk and takes a walk after lunch.",
    "The release was rolled back because of a memory leak in the cache layer, "
    "which only appeared under sustained load after several hours, so the team "
    "added a soak test to the pipeline before the next attempt.",
    "Speaks English, Portuguese and a little Mandarin.",
    "Quarterly OKRs focus on latency, reliability and onboarding.",
    "Is learning to play the cello.",
    "Keep receipts for every expense over fifty dollars.",
]


def main(argv: list[str] | None = None) -> int:
    """CLI: ``python -m memories.embedders export [--force] | bench``."""

    parser = argparse.ArgumentParser(prog="python -m memories.embedders")
    commands = parser.add_subparsers(dest="command", required=True)
    export_cmd = commands.add_parser("export", help="export ONNX fp32 + int8 models")
    export_cmd.add_argument("--force", action="store_true", help="export again")
    bench_cmd = commands.add_parser("bench", help="latency/throughput per backend")
    bench_cmd.add_argument(
        "--threads",
        type=int,
        default=int(os.environ.get("MEMORYHUB_EMBEDDER_THREADS", 1)),
    )
    args = parser.parse_args(argv)

    # optimum / transformers / the ONNX tracer are chatty about things that do
    # not matter here (deprecations, tracer constants).
    logging.basicConfig(level=logging.ERROR)
    warnings.filterwarnings("ignore")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    try:
        if args.command == "export":
            export(force=args.force)
        else:
            bench(threads=args.threads)
    except EmbedderError as exc:
        print(f"error: {exc.message}")
        return 1
    return 0
