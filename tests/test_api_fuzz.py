"""Contract fuzzing: schemathesis drives every API v1 operation from the OpenAPI document.

For each operation, as a technician, a chemist, a reviewer and an investigator, it sends a fixed,
seeded budget of generated requests, valid and invalid, and checks that no answer is a 5xx, that
each status code is one the document lists, and that each body matches its documented schema.
scripts/test prints the budget and the seed (LIMS_FUZZ_EXAMPLES, LIMS_FUZZ_SEED).
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, seed, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

EXAMPLES = int(os.environ.get("LIMS_FUZZ_EXAMPLES", "10"))
SEED = int(os.environ.get("LIMS_FUZZ_SEED", "20261208"))
ROLES = ("technician", "chemist", "reviewer", "investigator")
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


@pytest.fixture(params=ROLES)
def role_token(request, app, make_user, make_case, make_samples, api_token):
    """A bearer token of one role, in a laboratory with a case and two items to find."""
    tech = make_user("technician", "fuzz-tech")
    user = tech if request.param == "technician" else make_user(request.param, "fuzz-user")
    investigators = [user] if request.param == "investigator" else []
    make_samples(tech, make_case(tech, investigators=investigators), n=2)
    return api_token(user)


def _fuzz(operation, headers: dict, mode: GenerationMode) -> None:
    """Send the operation's budget of generated requests; raise on the first failed check."""

    @seed(SEED)
    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(operation.as_strategy(generation_mode=mode))
    def run(case):
        case.call_and_validate(headers=headers, checks=CHECKS)

    run()


def test_every_operation_keeps_its_contract(app, role_token):
    headers = {"Authorization": f"Bearer {role_token}"}
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, headers=headers)
    failures, tried = [], 0
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            tried += 1
            try:
                _fuzz(operation, headers, mode)
            except Exception as error:  # every operation is tried; all failures are reported
                failures.append(f"{operation.label} ({mode.value}): {error}")
    assert tried >= 20  # the document lists the whole API, not a fraction of it
    assert not failures, "\n\n".join(failures)
