"""The labelled retrieval set and the script that builds it."""
