"""REST API of the accounts app: teams and API keys."""
