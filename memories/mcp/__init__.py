"""The MCP endpoint: MemoryHub's memories as tools for MCP clients (Claude, Cursor...).

Built with the official ``mcp`` SDK (``MCPServer``), served over streamable
HTTP at ``/mcp`` by its own ASGI process (``python -m memories.mcp``),
stateless with JSON responses so any number of replicas can sit behind a load
balancer. Every request carries ``Authorization: Bearer <MemoryHub API key>``;
tools call the same services, permissions, encryption and audit as the REST
and mem0-compatible APIs.
"""
