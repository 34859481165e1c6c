"""Contract fuzzing: schemathesis drives every API v1 operation from the OpenAPI document.

For each operation, as a technician, a chemist, a reviewer and an investigator, it sends a fixed,
seeded budget of generated requests (valid and invalid) and checks that no answer is a 5xx, that
each status code is one the document lists, and that each body matches its documented schema.
The budget and the seed are printed at the start of the run (scripts/test sets them).
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, seed, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

EXAMPLES = int(os.environ.get("LIMS_FUZZ_EXAMPLES", "15"))
SEED = int(os.environ.get("LIMS_FUZZ_SEED", "20261208"))
ROLES = ("technician", "chemist", "reviewer", "investigator")
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


@pytest.fixture(params=ROLES)
def role_token(request, app, make_user, make_case, make_samples, api_token):
    """A bearer token of one role, in a laboratory with a case and an item to find."""
    tech = make_user("technician", "fuzz-tech")
    user = tech if request.param == "technician" else make_user(request.param, "fuzz-user")
    investigators = [user] if request.param == "investigator" else []
    make_samples(tech, make_case(tech, investigators=investigators), n=2)
    return api_token(user)


@pytest.fixture
def api_schema(app, role_token):
    """The OpenAPI document the application serves, bound to the application (WSGI)."""
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, headers=_auth(role_token))


def _auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@seed(SEED)
@settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=False,
          suppress_health_check=list(HealthCheck))
def test_api_contract(case, role_token):
    case.call_and_validate(headers=_auth(role_token), checks=CHECKS)
