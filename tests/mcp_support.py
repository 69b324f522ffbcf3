"""The MCP endpoint in tests: a real uvicorn serving ``build_app()`` in a thread,
and the official SDK's client sending a MemoryHub key.

Tools run in worker threads on their own database connections: tests that
call them need committed data (``transactional_db``).
"""

import asyncio
import socket
import threading
import time
from contextlib import asynccontextmanager, contextmanager

import httpx2
import uvicorn
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from memories.mcp.server import build_app

JSONRPC_ACCEPT = "application/json, text/event-stream"


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def serve_mcp():
    """``memories.mcp.server.build_app()`` on a free port; yields its URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(build_app(), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        server.should_exit = True
        thread.join(10)


@asynccontextmanager
async def session(
    url: str, secret: str | None, mode: str = "auto", headers: dict | None = None
):
    """An SDK client session sending ``Authorization: Bearer <secret>`` (and
    ``headers``)."""
    headers = dict(headers or {})
    if secret:
        headers["Authorization"] = f"Bearer {secret}"
    async with httpx2.AsyncClient(headers=headers, timeout=120) as http:
        transport = streamable_http_client(url, http_client=http)
        async with Client(transport, mode=mode) as client:
            yield client


def run(coro):
    """Run a coroutine from a (synchronous, database-using) test."""
    return asyncio.run(coro)


async def call(client, tool: str, **arguments):
    """Call a tool; returns (structured content, text, is_error)."""
    result = await client.call_tool(tool, arguments)
    text = "\n".join(block.text for block in result.content)
    return result.structured_content, text, result.is_error


async def post_jsonrpc(url: str, body: dict, headers: dict | None = None):
    """One raw JSON-RPC POST (no SDK client: it cannot connect without a key)."""
    async with httpx2.AsyncClient(timeout=30) as http:
        return await http.post(
            url, json=body, headers={"Accept": JSONRPC_ACCEPT, **(headers or {})}
        )
