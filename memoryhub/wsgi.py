"""WSGI entry point (gunicorn serves the web process from here).

Before serving, each web process checks that the database has pgvector and
exits with a message saying how to fix it if not (gunicorn then stops with
"App failed to load" rather than answering every search with a 500); a
pgvector older than 0.8 is logged as a warning, and served.
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "memoryhub.settings")
application = get_wsgi_application()

from memoryhub.checks import exit_if_no_pgvector  # noqa: E402  (needs settings)

exit_if_no_pgvector(exit_code=4)  # gunicorn's APP_LOAD_ERROR
