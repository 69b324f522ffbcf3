"""Extraction: an LLM turns conversations into memories (docs/extraction.md).

:mod:`.llm` talks to the operator's OpenAI-compatible model, :mod:`.prompts`
holds what it is asked and the shapes its answers must have; the pipeline
that applies the answers through the memory services is
:mod:`memories.services.extraction`.
"""
