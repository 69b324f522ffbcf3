"""Django's ASGI entry point; no shipped process serves it.

The web process runs on WSGI (:mod:`memoryhub.wsgi`) and the MCP process has
its own ASGI app (:mod:`memories.mcp.asgi`).
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "memoryhub.settings")
application = get_asgi_application()
