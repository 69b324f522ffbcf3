"""TEST FIXTURE — a local OpenAI-compatible chat-completions server that
answers from a script. It is not a model: no LLM can run on these machines
(DESIGN.md), so the extraction tests and ``benchmarks/bench_extract.py``
point ``MEMORYHUB_LLM_URL`` here.

Each request is recorded (``requests``). An answer is chosen by the request:
the step it belongs to (the ``response_format`` schema name MemoryHub sends —
``memoryhub_facts``, ``memoryhub_decisions``, ``memoryhub_summary`` — or, when
a request comes without one, the system prompt) and a ``needle`` the user
message must contain. Rules added with :meth:`ScriptedLLM.on` are tried
newest first; without a matching rule a plain default answers: one fact per
user message, ``NONE`` for a fact some memory already states word for word
and ``ADD`` otherwise, and a summary that lists the memories. mem0 OSS's
own extraction (its one additive call, the benchmark's peer) gets one memory
per user message in mem0's shape.

A rule can also answer late (``delay``, for timeouts and the benchmark's
fixed model latency), with an HTTP error (``status``), with text that is not
the JSON asked for (``raw``), or refuse ``response_format`` like servers
without structured output (``refuse_schema``).
"""

import json
import re
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STEPS = {
    "memoryhub_facts": "facts",
    "memoryhub_decisions": "decisions",
    "memoryhub_summary": "summary",
}
_BLOCK = re.compile(r"<(conversation|facts|memories)>\n(.*?)\n</\1>", re.DOTALL)


def blocks(text: str) -> dict:
    """The JSON data blocks of a MemoryHub prompt, by tag."""
    return {name: json.loads(body) for name, body in _BLOCK.findall(text)}


def step_of(body: dict) -> str:
    """Which extraction step a request is (facts, decisions or summary)."""
    fmt = body.get("response_format") or {}
    name = (fmt.get("json_schema") or {}).get("name")
    if name in STEPS:
        return STEPS[name]
    if "## New Messages" in body["messages"][-1]["content"]:
        return "mem0"  # mem0 OSS's own (additive) extraction, the benchmark's peer
    system = body["messages"][0]["content"]
    if "extract facts" in system:
        return "facts"
    if "consistent" in system:
        return "decisions"
    return "summary"


def default_answer(step: str, user: str) -> dict:
    """The plain scripted answer of a step (see the module docstring)."""
    if step == "mem0":  # one memory per user line of mem0's "## New Messages"
        section = user.split("## New Messages\n", 1)[-1].split("\n## ", 1)[0]
        return {
            "memory": [
                {"text": line[len("user: ") :].strip()}
                for line in section.splitlines()
                if line.startswith("user: ")
            ]
        }
    data = blocks(user)
    if step == "facts":
        return {
            "facts": [
                {"text": m["content"].strip(), "categories": []}
                for m in data.get("conversation", [])
                if m["role"] == "user"
            ]
        }
    if step == "decisions":
        known = {m["text"].casefold(): m["id"] for m in data.get("memories", [])}
        decisions = []
        for fact in data.get("facts", []):
            same = known.get(fact["text"].casefold())
            decisions.append(
                {"fact": fact["index"], "event": "NONE", "memory": same}
                if same
                else {"fact": fact["index"], "event": "ADD"}
            )
        return {"decisions": decisions}
    texts = [m["text"] for m in data.get("memories", [])]
    return {"summary": "Known: " + "; ".join(texts)}


@dataclass
class Rule:
    step: str
    needle: str | None
    answer: dict | None = None
    raw: str | None = None
    status: int | None = None
    delay: float = 0.0
    refuse_schema: bool = False
    times: int | None = None  # answers this many requests, then steps aside


class ScriptedLLM:
    """The fixture server; ``url`` is what ``MEMORYHUB_LLM_URL`` takes."""

    def __init__(self, *, latency: float = 0.0) -> None:
        self.latency = latency
        self.rules: list[Rule] = []
        self.requests: list[dict] = []
        self._lock = threading.Lock()
        fixture = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes: without this, Nagle's
            # algorithm and the client's delayed ACK add ~40 ms to each answer.
            disable_nagle_algorithm = True

            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                status, payload = fixture.answer(self.path, body)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def on(self, step: str, needle: str | None = None, **behaviour) -> Rule:
        """Answer requests of ``step`` whose user message contains ``needle``."""
        rule = Rule(step=step, needle=needle, **behaviour)
        with self._lock:
            self.rules.insert(0, rule)
        return rule

    def reset(self) -> None:
        with self._lock:
            self.rules.clear()
            self.requests.clear()

    def steps(self) -> list[str]:
        """The steps of the requests received, in order."""
        return [step_of(body) for body in self.requests]

    def _rule(self, step: str, user: str) -> Rule | None:
        with self._lock:
            for rule in self.rules:
                if rule.step == step and (rule.needle is None or rule.needle in user):
                    if rule.times is not None:
                        if rule.times <= 0:
                            continue
                        rule.times -= 1
                    return rule
        return None

    def answer(self, path: str, body: dict) -> tuple[int, dict]:
        if not path.rstrip("/").endswith("/chat/completions"):
            return 404, {"error": {"message": f"no route {path}"}}
        with self._lock:
            self.requests.append(body)
        step = step_of(body)
        user = "\n".join(
            m["content"] for m in body["messages"][1:] if m["role"] == "user"
        )
        rule = self._rule(step, user)
        delay = self.latency + (rule.delay if rule else 0.0)
        if delay:
            time.sleep(delay)
        if rule and rule.refuse_schema and "response_format" in body:
            return 400, {"error": {"message": "response_format is not supported"}}
        if rule and rule.status:
            return rule.status, {"error": {"message": "scripted failure"}}
        if rule and rule.raw is not None:
            content = rule.raw
        else:
            answer = rule.answer if rule and rule.answer is not None else None
            content = json.dumps(answer or default_answer(step, user))
        return 200, {
            "id": f"chatcmpl-{len(self.requests)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "scripted"),
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": sum(len(m["content"]) // 4 for m in body["messages"]),
                "completion_tokens": len(content) // 4,
                "total_tokens": 0,
            },
        }
