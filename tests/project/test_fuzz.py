"""Fuzz every operation from the API's own OpenAPI schema: no input may cause a 500.

Requests go through the real WSGI application in process, authenticated as a
platform administrator (who reaches every operation) on the three-party data.
"""

from pathlib import Path

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from rest_framework_simplejwt.tokens import AccessToken
from schemathesis.checks import not_a_server_error

from auditlog_project.wsgi import application

# The committed schema (make test checks it matches the code), served by the app.
schema = schemathesis.openapi.from_path(str(Path(__file__).parents[2] / "docs" / "openapi.yaml"))
schema.app = application


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    # Like Django's test client: requests must not close the test's connection.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def admin_headers(parties) -> dict:
    return {
        "Authorization": f"Bearer {AccessToken.for_user(parties.platform_admin)}",
        "Host": "localhost",
    }


@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_no_input_causes_a_server_error(case, admin_headers):
    case.call_and_validate(headers=admin_headers, checks=[not_a_server_error])
