"""The OpenAI-compatible HTTP embedder (``POST {base}/embeddings``)."""

from __future__ import annotations

import time

import httpx
import numpy as np
from django.conf import settings

from memories.embedders.base import BATCH_SIZE, DIMENSIONS, EmbedderError, normalise


class OpenAIEmbedder:
    """An OpenAI-compatible ``POST {url}/embeddings`` endpoint, asked for 384 dims.

    Errors become :class:`EmbedderError` naming the setting to check; response
    bodies are never quoted because some servers echo the input text.
    """

    dimensions = DIMENSIONS

    def __init__(
        self,
        *,
        url: str,
        api_key: str = "",
        model: str = "text-embedding-3-small",
        timeout: float = 30.0,
        retries: int = 2,
        batch_size: int = BATCH_SIZE,
    ) -> None:
        """Configure the client; nothing is sent until the first embed."""
        if not url:
            raise EmbedderError(
                "MEMORYHUB_OPENAI_EMBEDDER_URL is not set; point it at an "
                "OpenAI-compatible API base such as https://api.openai.com/v1, or "
                "set MEMORYHUB_EMBEDDER=local."
            )
        url = url.rstrip("/")
        self.url = url if url.endswith("/embeddings") else url + "/embeddings"
        self.model = model
        self.name = f"openai:{model}"
        self.retries = retries
        self.batch_size = batch_size
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(timeout=timeout, headers=headers)

    @classmethod
    def from_settings(cls) -> OpenAIEmbedder:
        """Build from Django settings (OPENAI_EMBEDDER_URL, _KEY, _MODEL)."""

        return cls(
            url=settings.OPENAI_EMBEDDER_URL,
            api_key=settings.OPENAI_EMBEDDER_KEY,
            model=settings.OPENAI_EMBEDDER_MODEL,
        )

    def embed(self, texts: list[str]) -> np.ndarray:
        """Embed ``texts`` in batches; rows are re-normalised to unit length."""
        rows = [
            self._post(list(texts[start : start + self.batch_size]))
            for start in range(0, len(texts), self.batch_size)
        ]
        if not rows:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        return normalise(np.concatenate(rows))

    def embed_one(self, text: str) -> np.ndarray:
        """Embed one text."""
        return self.embed([text])[0]

    def _post(self, batch: list[str]) -> np.ndarray:
        """One request with bounded retries on 429, 5xx and transport errors."""
        payload = {
            "model": self.model,
            "input": batch,
            "dimensions": DIMENSIONS,
            "encoding_format": "float",
        }
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            try:
                response = self._client.post(self.url, json=payload)
            except httpx.TimeoutException:
                if last:
                    raise EmbedderError(
                        f"The embedding endpoint {self.url} timed out; check that "
                        "it is up or raise its capacity."
                    ) from None
            except httpx.HTTPError as exc:
                if last:
                    raise EmbedderError(
                        f"Cannot reach the embedding endpoint {self.url} "
                        f"({type(exc).__name__}); check "
                        "MEMORYHUB_OPENAI_EMBEDDER_URL."
                    ) from None
            else:
                if response.status_code < 400:
                    return self._parse(response, len(batch))
                if last or response.status_code not in (429, 500, 502, 503, 504):
                    raise self._status_error(response.status_code)
            time.sleep(0.25 * 2**attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def _status_error(self, status: int) -> EmbedderError:
        """An actionable error for an HTTP error status."""
        hint = {
            401: "check MEMORYHUB_OPENAI_EMBEDDER_KEY",
            403: "check MEMORYHUB_OPENAI_EMBEDDER_KEY and its permissions",
            404: "check MEMORYHUB_OPENAI_EMBEDDER_URL (the API base, e.g. "
            "https://api.openai.com/v1) and MEMORYHUB_OPENAI_EMBEDDER_MODEL",
            400: f"check that model {self.model!r} exists and supports "
            f"dimensions={DIMENSIONS}",
            429: "the endpoint is rate limiting; retry later",
        }.get(status, "retry later or check the endpoint's logs")
        return EmbedderError(
            f"The embedding endpoint {self.url} answered HTTP {status}; {hint}."
        )

    def _parse(self, response: httpx.Response, count: int) -> np.ndarray:
        """Vectors in input order from an OpenAI-style response."""
        try:
            data = sorted(response.json()["data"], key=lambda item: item["index"])
            vectors = np.asarray([item["embedding"] for item in data], np.float32)
        except (ValueError, KeyError, TypeError):
            raise EmbedderError(
                f"The embedding endpoint {self.url} returned a response that is "
                "not OpenAI /embeddings JSON; check MEMORYHUB_OPENAI_EMBEDDER_URL."
            ) from None
        if vectors.ndim != 2 or vectors.shape[0] != count:
            raise EmbedderError(
                f"The embedding endpoint {self.url} returned {len(data)} vectors "
                f"for {count} inputs."
            )
        if vectors.shape[1] != DIMENSIONS:
            raise EmbedderError(
                f"The embedding endpoint {self.url} returned {vectors.shape[1]}-"
                f"dimensional vectors; MemoryHub stores {DIMENSIONS}. Use a model "
                "that honours `dimensions` (e.g. text-embedding-3-small)."
            )
        return vectors
