"""Hypothesis-driven fuzzing of the main web forms: case, item, hand-over and finding.

Every field the page renders gets generated values (empty, long, control characters, other
scripts, huge and negative numbers, odd dates); whatever is sent, the answer is never a 5xx.
"""

from __future__ import annotations

import os
import re

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

EXAMPLES = int(os.environ.get("LIMS_FUZZ_EXAMPLES", "10"))  # scripts/test prints both
SEED = int(os.environ.get("LIMS_FUZZ_SEED", "20261208"))

VALUES = st.one_of(
    st.just(""),
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=300),
    st.sampled_from(["\x00", "\x1b[31m", "'; DROP TABLE sample; --", "<script>x</script>",
                     "Ж" * 5000, "9" * 40, "-1", "0", "2147483648", "1e309", "NaN",
                     "2026-02-30T25:61", "9999-12-31T23:59", "1.5 kg", "-3 g",
                     "user:nobody", "location:NOWHERE"]),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
)
NAME = re.compile(r'name="([^"]+)"')


def _fields(client, url: str) -> list[str]:
    page = client.get(url)
    assert page.status_code == 200, (url, page.status_code)
    return sorted({n for n in NAME.findall(page.get_data(as_text=True))
                   if n not in ("csrf_token", "code") and not n.startswith("overlay")})


@pytest.fixture
def forms(app, login, make_user, make_case, make_samples):
    """A technician and a chemist logged in, and the four form pages they use."""
    tech = make_user("technician", "fuzz-tech")
    make_user("chemist", "fuzz-chem")
    case = make_case(tech)
    sample = make_samples(tech, case)[0]
    tech_client, chem_client = app.test_client(), app.test_client()
    login(tech_client, "fuzz-tech")
    login(chem_client, "fuzz-chem")
    pages = {
        "case": (tech_client, "/cases/new"),
        "item": (tech_client, f"/cases/{case.case_number}/samples/new"),
        "hand-over": (tech_client, f"/samples/{sample.lab_number}/handover"),
        "finding": (chem_client, f"/samples/{sample.lab_number}/findings/new"),
    }
    return {name: (client, url, _fields(client, url)) for name, (client, url) in pages.items()}


@pytest.mark.parametrize("form", ["case", "item", "hand-over", "finding"])
def test_no_generated_form_post_is_a_server_error(forms, form):
    client, url, names = forms[form]
    assert names, f"the {form} page renders no fields"
    statuses = []

    @seed(SEED)
    @settings(max_examples=EXAMPLES * 4, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(st.fixed_dictionaries({}, optional={name: VALUES for name in names}))
    def post(data):
        response = client.post(url, data=data)
        statuses.append(response.status_code)
        assert response.status_code < 500, (form, data, response.status_code)

    post()
    assert len(statuses) >= EXAMPLES and 422 in statuses  # it ran, and most posts are refused
