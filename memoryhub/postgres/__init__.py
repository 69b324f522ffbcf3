"""The database engine of ``DATABASES`` (``"memoryhub.postgres"``): see ``base``."""
