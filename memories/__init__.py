"""Spaces, memories, history, audit, embeddings and search."""
