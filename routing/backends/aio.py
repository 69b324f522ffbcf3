"""One asyncio event loop per process, on a daemon thread, for async clients.

Synchronous callers (views, Celery tasks) reach async MCP sessions through
:func:`run`. :class:`McpSession` keeps one MCP client session open in a
long-lived task on that loop (the SDK's context managers must be entered and
left by the same task), so a stdio server is started once per process, not
once per call.
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


class McpSession:
    """A long-lived MCP client session for one server (URL or stdio params)."""

    def __init__(self, server, *, timeout: float) -> None:
        self.server = server
        self.broken = False
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
            raise self._error

    async def _main(self) -> None:
        from mcp.client import Client
        from mcp.client.stdio import StdioServerParameters, stdio_client

        server = self.server
        errlog = None
        if isinstance(server, StdioServerParameters):
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

    def call_tool(self, name: str, arguments: dict, *, timeout: float):
        """Call a tool; raises if the session is gone."""
        if self._client is None:
            self.broken = True
            raise ConnectionError("MCP session is closed")
        return run(self._client.call_tool(name, arguments), timeout=timeout)

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
