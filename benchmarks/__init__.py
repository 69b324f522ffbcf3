"""Reproducible MemoryHub benchmarks (see README.md)."""
