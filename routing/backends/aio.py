"""One asyncio event loop per process, on a daemon thread, for async clients.

Synchronous callers (views, Celery tasks) reach async MCP sessions through
:func:`run`. :class:`McpSession` keeps one MCP client session open in a
long-lived task on that loop (the SDK's context managers must be entered and
left by the same task), so a stdio server is started once per process, not
once per call.

Over streamable HTTP the session sends the given headers (an API key) and
watches the HTTP status of every answer: the SDK reports a 401 only as a
generic error, so :class:`ServerRefused` is raised when the server refused
the credentials, which callers turn into a permanent error.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from typing import Any

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None


def loop() -> asyncio.AbstractEventLoop:
    """The process's background event loop (started on first use)."""
    global _loop
    if _loop is not None and _loop.is_running():
        return _loop
    with _lock:
        if _loop is None or not _loop.is_running():
            new = asyncio.new_event_loop()
            started = threading.Event()

            def _run() -> None:
                asyncio.set_event_loop(new)
                new.call_soon(started.set)
                new.run_forever()

            threading.Thread(target=_run, name="routing-aio", daemon=True).start()
            started.wait(10)
            _loop = new
    return _loop


def run(coro, timeout: float | None = None) -> Any:
    """Run ``coro`` on the background loop and wait for it (``TimeoutError``)."""
    future = asyncio.run_coroutine_threadsafe(coro, loop())
    try:
        return future.result(timeout)
    except TimeoutError:
        future.cancel()
        raise


class ServerRefused(Exception):
    """The MCP server answered HTTP 401 or 403: the credentials are not accepted."""

    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


class McpSession:
    """A long-lived MCP client session for one server (URL or stdio params)."""

    def __init__(
        self, server, *, timeout: float, headers: dict[str, str] | None = None
    ) -> None:
        self.server = server
        self.headers = headers or {}
        self.timeout = timeout
        self.broken = False
        self.refused: int | None = None  # the last 401/403 the server answered
        self._client = None
        self._ready: asyncio.Event | None = None
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._task = None
        run(self._start(), timeout=max(timeout, 30.0))

    async def _start(self) -> None:
        self._ready = asyncio.Event()
        self._stop = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._main())
        await self._ready.wait()
        if self._error is not None:
            self.broken = True
            if self.refused:
                raise ServerRefused(self.refused) from self._error
            raise self._error

    def _http_client(self):
        """An HTTP client with our headers that notes refused credentials."""
        # The MCP client stack loads only in processes that talk to MCP servers.
        import httpx2

        async def note_status(response) -> None:
            if response.status_code in (401, 403):
                self.refused = response.status_code

        return httpx2.AsyncClient(
            headers=self.headers,
            timeout=httpx2.Timeout(self.timeout),
            event_hooks={"response": [note_status]},
        )

    async def _main(self) -> None:
        # The MCP client stack loads only in processes that talk to MCP servers.
        from mcp.client import Client
        from mcp.client.stdio import StdioServerParameters, stdio_client
        from mcp.client.streamable_http import streamable_http_client

        server = self.server
        errlog = http = None
        if isinstance(server, str):
            http = self._http_client()
            server = streamable_http_client(server, http_client=http)
        elif isinstance(server, StdioServerParameters):
            # The server's stderr goes to a real file: Celery replaces
            # sys.stderr with a proxy that has no file descriptor.
            errlog = open(os.devnull, "w")  # noqa: SIM115 (closed below)
            server = stdio_client(server, errlog=errlog)
        try:
            async with Client(server, mode="legacy") as client:
                self._client = client
                self._ready.set()
                await self._stop.wait()
        except BaseException as exc:
            self._error = exc
            self.broken = True
        finally:
            self._client = None
            self._ready.set()
            if errlog is not None:
                errlog.close()
            if http is not None:
                await http.aclose()

    def call_tool(self, name: str, arguments: dict, *, timeout: float):
        """Call a tool; raises if the session is gone (:class:`ServerRefused`
        when the server refused the credentials)."""
        if self._client is None:
            self.broken = True
            raise ConnectionError("MCP session is closed")
        self.refused = None
        try:
            return run(self._client.call_tool(name, arguments), timeout=timeout)
        except Exception as exc:
            if self.refused:
                raise ServerRefused(self.refused) from exc
            raise

    def close(self) -> None:
        """Leave the session (a stdio server process exits)."""
        if self._stop is None:
            return
        stop, task = self._stop, self._task

        async def _close() -> None:
            stop.set()
            if task is not None:
                try:
                    await asyncio.wait_for(task, 10)
                except (TimeoutError, Exception):
                    task.cancel()

        with contextlib.suppress(Exception):
            run(_close(), timeout=15)
