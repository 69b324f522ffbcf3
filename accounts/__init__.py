"""Users, teams, memberships and API keys."""
