"""Backends, routing rules, outbox and sync (models arrive with issue #4)."""
