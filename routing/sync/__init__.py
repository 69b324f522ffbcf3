"""Sync jobs: keep a space and another memory store in step (docs/sync.md).

:mod:`.engine` runs them, :mod:`.services` manages them, :mod:`.selectors`
reads them, :mod:`.filtering` applies a job's filter on both sides.
"""
