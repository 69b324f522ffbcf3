"""The MCP server and its ASGI app: tools, transport settings and authentication."""

from django.conf import settings
from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings

from memories.mcp.auth import ApiKeyMiddleware
from memories.mcp.graph import graph_tools
from memories.mcp.tools import NOTICE, memory_tools

MCP_PATH = "/mcp"
INSTRUCTIONS = (
    "MemoryHub keeps encrypted, permissioned memories for you in the space your "
    "API key works in. Use search_memories before answering questions about "
    "people, preferences or past work, and add_memory to remember durable facts. "
    "The knowledge-graph tools (create_entities, read_graph, ...) behave like "
    "the official MCP memory server. " + NOTICE
)


def build_server() -> MCPServer:
    """A fresh ``MCPServer`` with the memory and knowledge-graph tools."""
    return MCPServer(
        "memoryhub",
        title="MemoryHub",
        instructions=INSTRUCTIONS,
        tools=[*memory_tools(), *graph_tools()],
    )


def transport_security() -> TransportSecuritySettings:
    """DNS-rebinding protection from Django's ``ALLOWED_HOSTS``.

    Browsers are the attack vector for DNS rebinding; the Host header must be
    one this deployment answers to (``*`` in ``ALLOWED_HOSTS`` turns the check
    off, as it does for Django).
    """
    hosts = list(settings.ALLOWED_HOSTS)
    if "*" in hosts:
        return TransportSecuritySettings(enable_dns_rebinding_protection=False)
    allowed_hosts = [pattern for host in hosts for pattern in (host, f"{host}:*")]
    origins = [
        f"{scheme}://{host}{port}"
        for host in hosts
        for scheme in ("http", "https")
        for port in ("", ":*")
    ]
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=allowed_hosts,
        allowed_origins=[*origins, *settings.CSRF_TRUSTED_ORIGINS],
    )


def build_app():
    """The ASGI app: API-key authentication around the SDK's streamable HTTP app."""
    app = build_server().streamable_http_app(
        streamable_http_path=MCP_PATH,
        stateless_http=True,
        json_response=True,
        transport_security=transport_security(),
    )
    return ApiKeyMiddleware(app)
