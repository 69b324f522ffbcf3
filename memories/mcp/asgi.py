"""ASGI entry point of the MCP process: ``uvicorn memories.mcp.asgi:app``."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "memoryhub.settings")
django.setup()

from memories.mcp.server import build_app  # noqa: E402 - needs Django set up

app = build_app()
