"""The extraction model: which one a team uses, and one JSON answer from it.

Any OpenAI-compatible chat-completions API serves (OpenAI, Azure OpenAI,
vLLM, Ollama, LiteLLM). The environment (``MEMORYHUB_LLM_*``) names the
default model; an operator can give one team its own (:class:`TeamModel`).
Content is sent only where ``allows_content`` is set, like a backend's
``allows_plaintext``.

Answers are asked for as JSON matching a schema (``response_format`` of type
``json_schema``); a server that refuses that is asked again without it, and
the answer is parsed and validated either way. A malformed answer gets one
more try; a timeout, an unreachable server or an error status is a
:class:`ModelError` naming the model, never quoting what the server sent
(some servers echo the input).
"""

import functools
import json
import re
import threading
import time
from dataclasses import dataclass, field

import openai
from django.conf import settings
from pydantic import BaseModel, ValidationError

from memories.models import TeamModel
from memoryhub.crypto.keys import unwrap_key, wrap_key
from memoryhub.errors import InvalidInput, Unavailable

ENV_SOURCE = "environment (MEMORYHUB_LLM_*)"
TEAM_SOURCE = "the team's model (admin)"
_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)


class ModelError(Unavailable):
    """The model could not give a usable answer (timeout, error, malformed)."""


@dataclass(frozen=True)
class ModelConfig:
    """Where and how to call the model (the API key stays out of ``repr``)."""

    url: str
    model: str
    api_key: str = field(default="", repr=False)
    temperature: float = 0.0
    timeout: float = 30.0
    max_tokens: int = 1024
    allows_content: bool = False
    source: str = ENV_SOURCE

    @property
    def label(self) -> str:
        """The model as events and errors name it."""
        return self.model


@dataclass
class Call:
    """What one answer cost: model calls made, their time, tokens reported."""

    calls: int = 0
    ms: float = 0.0
    usage: dict = field(default_factory=dict)

    def add_usage(self, usage) -> None:
        if usage is None:
            return
        for name in ("prompt_tokens", "completion_tokens", "total_tokens"):
            value = getattr(usage, name, None)
            if isinstance(value, int):
                self.usage[name] = self.usage.get(name, 0) + value


# --- which model ---------------------------------------------------------------


def _team_key_aad(team_id: int) -> bytes:
    return f"memories-team-model-key:{team_id}".encode()


def team_model_set_key(team_model: TeamModel, api_key: str) -> None:
    """Seal ``api_key`` into ``team_model`` (saved by the caller)."""
    team_model.api_key_sealed = (
        wrap_key(api_key.encode(), _team_key_aad(team_model.team_id))
        if api_key
        else None
    )


def _team_key(team_model: TeamModel) -> str:
    if not team_model.api_key_sealed:
        return ""
    return unwrap_key(
        bytes(team_model.api_key_sealed), _team_key_aad(team_model.team_id)
    ).decode()


def model_for_team(team_id: int) -> ModelConfig | None:
    """The model a team extracts with: its own if enabled, else the
    environment's, else ``None``."""
    own = TeamModel.objects.filter(team_id=team_id, enabled=True).first()
    if own is not None:
        return ModelConfig(
            url=own.url,
            model=own.model,
            api_key=_team_key(own),
            temperature=own.temperature,
            timeout=own.timeout_seconds,
            max_tokens=own.max_tokens,
            allows_content=own.allows_content,
            source=TEAM_SOURCE,
        )
    if not (settings.LLM_URL and settings.LLM_MODEL):
        return None
    return ModelConfig(
        url=settings.LLM_URL,
        model=settings.LLM_MODEL,
        api_key=settings.LLM_API_KEY or "",
        temperature=settings.LLM_TEMPERATURE,
        timeout=settings.LLM_TIMEOUT_SECONDS,
        max_tokens=settings.LLM_MAX_TOKENS,
        allows_content=settings.LLM_ALLOWS_CONTENT,
    )


def require_model(team_id: int) -> ModelConfig:
    """The team's model, or a 400 that says what the operator must set."""
    config = model_for_team(team_id)
    if config is None:
        raise InvalidInput(
            "extraction (infer=true) needs a model and none is configured: an "
            "operator sets MEMORYHUB_LLM_URL and MEMORYHUB_LLM_MODEL (and "
            "MEMORYHUB_LLM_ALLOWS_CONTENT=true), or gives this team a model in "
            "the admin. Send infer=false to store the messages as they are.",
            field="infer",
        )
    if not config.allows_content:
        setting = (
            "MEMORYHUB_LLM_ALLOWS_CONTENT=true"
            if config.source == ENV_SOURCE
            else "“allows content” on the team's model in the admin"
        )
        raise InvalidInput(
            f"extraction sends the messages to the model {config.model!r}, and "
            f"sending content to it is not allowed: an operator turns on "
            f"{setting} to allow it. Send infer=false to store the messages as "
            "they are.",
            field="infer",
        )
    return config


# --- asking it -----------------------------------------------------------------

_clients: dict[tuple, openai.OpenAI] = {}
_clients_lock = threading.Lock()
# Servers that refused ``response_format: json_schema`` (asked without it next).
_no_schema: set[tuple] = set()


def _client(config: ModelConfig) -> openai.OpenAI:
    key = (config.url, config.api_key, config.timeout)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = openai.OpenAI(
                base_url=config.url,
                # Servers without auth (Ollama, vLLM) still need some value.
                api_key=config.api_key or "unused",
                timeout=config.timeout,
                max_retries=0,  # one bounded retry is ours, below
            )
        return client


def _parse(text: str | None, shape: type[BaseModel]) -> BaseModel:
    """The answer as ``shape``; raises ValueError saying what was wrong."""
    if not text:
        raise ValueError("the answer was empty")
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group(1)
    try:
        data = json.loads(text)
    except ValueError:
        raise ValueError("the answer was not JSON") from None
    try:
        return shape.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or 'answer'}: {error['msg']}"
            for error in exc.errors(include_input=False)[:5]
        )
        raise ValueError(f"the answer did not match the schema ({problems})") from None


@functools.cache
def _schema(shape: type[BaseModel]) -> dict:
    return shape.model_json_schema()


def _request(config, messages, schema_name, shape, *, with_schema: bool):
    kwargs = {}
    if with_schema:
        kwargs["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": schema_name, "schema": _schema(shape)},
        }
    return _client(config).chat.completions.create(
        model=config.model,
        messages=messages,
        temperature=config.temperature,
        max_tokens=config.max_tokens,
        **kwargs,
    )


def _ask(config, messages, schema_name, shape, call: Call):
    """One completion (asking again without a schema if the server refuses it)."""
    server = (config.url, config.model)
    started = time.perf_counter()
    try:
        try:
            response = _request(
                config,
                messages,
                schema_name,
                shape,
                with_schema=server not in _no_schema,
            )
        except openai.BadRequestError:
            if server in _no_schema:
                raise
            _no_schema.add(server)
            call.calls += 1
            response = _request(config, messages, schema_name, shape, with_schema=False)
    except openai.APITimeoutError:
        raise ModelError(
            f"the extraction model {config.model!r} did not answer within "
            f"{config.timeout:g} s (MEMORYHUB_LLM_TIMEOUT_SECONDS); nothing was "
            "changed"
        ) from None
    except openai.APIConnectionError:
        raise ModelError(
            f"could not reach the extraction model at {config.url}; nothing was changed"
        ) from None
    except openai.APIStatusError as exc:
        raise ModelError(
            f"the extraction model {config.model!r} answered HTTP "
            f"{exc.status_code}; nothing was changed"
        ) from None
    except openai.APIError:
        raise ModelError(
            f"the extraction model {config.model!r} did not answer like an "
            "OpenAI-compatible chat completion; nothing was changed"
        ) from None
    finally:
        call.calls += 1
        call.ms += (time.perf_counter() - started) * 1000
    call.add_usage(getattr(response, "usage", None))
    choices = getattr(response, "choices", None) or []
    return choices[0].message.content if choices else None


def ask_json(
    config: ModelConfig,
    *,
    system: str,
    user: str,
    schema_name: str,
    shape: type[BaseModel],
    call: Call,
) -> BaseModel:
    """The model's answer to ``system`` + ``user`` as a validated ``shape``.

    A malformed answer is asked for once more, with what was wrong (never
    the answer itself); a second malformed answer is a :class:`ModelError`.
    """
    messages = [
        {"role": "system", "content": system},
        {"role": "user", "content": user},
    ]
    text = _ask(config, messages, schema_name, shape, call)
    try:
        return _parse(text, shape)
    except ValueError as first:
        problem = str(first)
    messages += [
        {"role": "assistant", "content": text or ""},
        {
            "role": "user",
            "content": f"That answer could not be used: {problem}. Answer again "
            "with only a JSON object matching the schema.",
        },
    ]
    text = _ask(config, messages, schema_name, shape, call)
    try:
        return _parse(text, shape)
    except ValueError as second:
        raise ModelError(
            f"the extraction model {config.model!r} gave an unusable answer twice "
            f"({second}); nothing was changed"
        ) from None
