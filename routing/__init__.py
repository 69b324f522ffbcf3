"""Routing: backends, routing rules, the replication outbox and change feeds."""
