"""Tests of mem0api."""
