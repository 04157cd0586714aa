"""OpenAPI 3 at /api/schema/ and Swagger UI at /api/docs/, served with no internet."""

import re

import pytest
import yaml

pytestmark = pytest.mark.django_db


def test_schema_is_openapi_3_and_documents_auth_and_errors(client):
    response = client.get("/api/schema/")
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    assert schema["openapi"].startswith("3.")
    assert {"jwtAuth", "cookieAuth"} <= schema["components"]["securitySchemes"].keys()
    me = schema["paths"]["/api/v1/auth/me"]["get"]
    # A bearer token, or the session of the dashboard's login (the browsable API).
    assert me["security"] == [{"jwtAuth": []}, {"cookieAuth": []}]
    assert "401" in me["responses"]
    token = schema["paths"]["/api/v1/auth/token"]["post"]
    assert token.get("security") in ([], [{}], None) or {} in token["security"]
    assert "429" in token["responses"]
    for path in ("/api/v1/tenants", "/api/v1/tenants/{tenant_id}/members", "/api/v1/users"):
        assert path in schema["paths"]


def test_swagger_ui_renders_from_local_assets(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    assert not re.search(r"https?://(cdn|unpkg|fonts)\.", html)
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
    assert assets, html[:500]
    for asset in assets:
        assert client.get(asset).status_code == 200, asset
