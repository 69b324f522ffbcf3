"""The OpenAPI schema: generated without warnings, every endpoint documented
with its error responses, served at /api/schema/ and /api/docs/."""

import pytest
import yaml
from django.core.management import call_command
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def schema():
    """The schema, generated once, with spectacular's warning counters checked."""
    GENERATOR_STATS.reset()
    generated = SchemaGenerator().get_schema(request=None, public=True)
    problems = {**GENERATOR_STATS._warn_cache, **GENERATOR_STATS._error_cache}
    assert not problems, "schema warnings/errors:\n" + "\n".join(problems)
    return generated


def test_spectacular_validate_fail_on_warn(tmp_path):
    """`manage.py spectacular --validate --fail-on-warn` passes."""
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    assert yaml.safe_load(out.read_text())["openapi"].startswith("3.")


def test_every_api_operation_documents_errors(schema):
    """Each /api/v1 operation has a 2xx and the JSON error responses."""
    operations = [
        (path, method, op)
        for path, item in schema["paths"].items()
        if path.startswith("/api/v1/")
        for method, op in item.items()
    ]
    assert len(operations) >= 26
    for path, method, op in operations:
        codes = set(op["responses"])
        assert any(code.startswith("2") for code in codes), (path, method)
        assert {"400", "401", "429"} <= codes, (path, method)
        if "{" in path:
            assert "404" in codes, (path, method)
        if method in ("post", "put", "patch"):
            assert {"413", "415"} <= codes, (path, method)
        error = op["responses"]["401"]["content"]["application/json"]["schema"]
        assert error == {"$ref": "#/components/schemas/Error"}
        assert op.get("summary") or op.get("description"), (path, method)


def test_schema_and_docs_are_served(client):
    """The schema and the interactive docs are public pages."""
    response = client.get("/api/schema/")
    assert response.status_code == 200
    assert b"/api/v1/spaces/{slug}/memories/" in response.content
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"swagger" in docs.content.lower()
    # Assets come from the installed sidecar package, never a CDN.
    assert b"cdn.jsdelivr" not in docs.content
    assert b"drf_spectacular_sidecar/swagger-ui-dist" in docs.content
