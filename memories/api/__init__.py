"""REST API of the memories app: spaces, memories, search, transfer, audit."""
