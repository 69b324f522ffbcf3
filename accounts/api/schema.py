"""OpenAPI: the API-key security scheme (drf-spectacular registers it on import)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    """Documents ``accounts.authentication.ApiKeyAuthentication``."""

    target_class = "accounts.authentication.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        """HTTP bearer; ``Token <key>`` (mem0 clients) is accepted as well."""
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A team API key `mh_<prefix>_<secret>` as "
            "`Authorization: Bearer <key>`; `Token <key>` also works.",
        }
