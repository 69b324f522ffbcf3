"""The team app's pages: thin views over the services and selectors.

Each view parses a form, calls the same service or selector the REST API
calls (with the actor of the session and ``surface="ui"``), and renders.
Permissions are the services' and selectors': a space or memory the person
may not see is their ``NotFound`` (a 404 page), a write they may not make is
their ``Forbidden`` (403). What the templates show or hide (edit buttons)
follows ``memories.permissions.space_perms``, the same answer the services
give. Sign-in is required by :mod:`web.middleware`, not by each view.

The views live by page area (``home``, ``spaces``, ``memories``, ...);
``base`` holds what they share.
"""
