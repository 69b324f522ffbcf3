"""``python -m memories.mcp``: serve the MCP endpoint with uvicorn.

Listens on ``MCP_HOST``:``MCP_PORT`` (default 127.0.0.1:8001); ``--host`` and
``--port`` override them, e.g. ``--host 0.0.0.0`` in a container.
"""

import argparse
import os

import uvicorn


def main(argv: list[str] | None = None) -> None:
    """Parse the options and run uvicorn until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m memories.mcp")
    parser.add_argument("--host", default=os.environ.get("MCP_HOST", "127.0.0.1"))
    parser.add_argument(
        "--port", type=int, default=int(os.environ.get("MCP_PORT", "8001"))
    )
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    uvicorn.run(
        "memories.mcp.asgi:app",
        host=args.host,
        port=args.port,
        workers=args.workers,
        proxy_headers=True,
        log_level=os.environ.get("MEMORYHUB_LOG_LEVEL", "info").lower(),
    )


if __name__ == "__main__":
    main()
