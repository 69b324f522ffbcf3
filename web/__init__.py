"""The team app: server-rendered pages over the same services and selectors
as the REST API (docs/architecture.md: a surface above ``routing``)."""
