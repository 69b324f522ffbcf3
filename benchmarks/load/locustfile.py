"""The Locust workload of ``run_load.py``: agents of many teams searching,
adding, reading and listing through the native API, the mem0-compatible API
and the MCP endpoint. Not a test; see ``run_load.py``.

Environment (set by ``run_load.py``): ``LOAD_KEYS`` (comma-separated API
keys, one per team, each working in its team's ``default`` space),
``LOAD_MCP_URL`` (optional), ``LOAD_ACKS`` (a file each acknowledged add's id
is appended to, for the data-loss check).
"""

import itertools
import os
import random
import threading

from locust import HttpUser, between, task

KEYS = [k for k in os.environ.get("LOAD_KEYS", "").split(",") if k]
MCP_URL = os.environ.get("LOAD_MCP_URL", "")
ACKS = os.environ.get("LOAD_ACKS", "")
_next_key = itertools.count()
_acks_lock = threading.Lock()
WORDS = ("tea", "jazz", "chess", "rain", "maps", "trains", "figs", "kites", "oak")
BASE = "/api/v1/spaces/default"


def _ack(memory_id: str) -> None:
    if ACKS:
        with _acks_lock, open(ACKS, "a") as out:
            out.write(memory_id + "\n")


class Agent(HttpUser):
    """One agent: its team's key, a think time of 0.2-0.6 s between calls."""

    wait_time = between(0.2, 0.6)

    def on_start(self) -> None:
        self.key = KEYS[next(_next_key) % len(KEYS)]
        self.auth = {"Authorization": f"Bearer {self.key}"}
        self.mem0 = {"Authorization": f"Token {self.key}"}
        self.ids: list[str] = []
        self.user = f"user-{random.randrange(50)}"

    def _words(self) -> str:
        return " ".join(random.choices(WORDS, k=3))

    @task(4)
    def search(self) -> None:
        self.client.post(
            f"{BASE}/search/",
            json={"query": f"likes {self._words()}", "top_k": 5},
            headers=self.auth,
            name="search",
        )

    @task(2)
    def add(self) -> None:
        response = self.client.post(
            f"{BASE}/memories/",
            json={
                "content": f"{self.user} likes {self._words()} {random.random()}",
                "user_id": self.user,
            },
            headers=self.auth,
            name="add",
        )
        if response.status_code == 201:
            memory_id = response.json()["id"]
            self.ids.append(memory_id)
            _ack(memory_id)

    @task(2)
    def get(self) -> None:
        if not self.ids:
            return
        self.client.get(
            f"{BASE}/memories/{random.choice(self.ids)}/",
            headers=self.auth,
            name="get",
        )

    @task(1)
    def list(self) -> None:
        self.client.get(
            f"{BASE}/memories/?user_id={self.user}&limit=20",
            headers=self.auth,
            name="list",
        )

    @task(2)
    def mem0_search(self) -> None:
        self.client.post(
            "/v3/memories/search/",
            json={"query": self._words(), "filters": {"user_id": self.user}},
            headers=self.mem0,
            name="mem0 search",
        )

    @task(1)
    def mem0_add(self) -> None:
        response = self.client.post(
            "/v3/memories/add/",
            json={
                "messages": f"{self.user} reads about {self._words()} "
                f"{random.random()}",
                "user_id": self.user,
                "infer": False,
            },
            headers=self.mem0,
            name="mem0 add",
        )
        if response.status_code == 200:
            for item in response.json().get("results", []):
                _ack(item["id"])

    @task(1)
    def mcp_search(self) -> None:
        if not MCP_URL:
            return
        self.client.post(
            MCP_URL,
            json={
                "jsonrpc": "2.0",
                "id": 1,
                "method": "tools/call",
                "params": {
                    "name": "search_memories",
                    "arguments": {"query": self._words(), "top_k": 5},
                },
            },
            headers={
                **self.auth,
                "Accept": "application/json, text/event-stream",
                "MCP-Protocol-Version": "2025-06-18",
            },
            name="mcp search",
        )
