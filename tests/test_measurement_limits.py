"""A decompression bomb uploaded as a measurement is a 422 naming the limit; nothing is stored."""

import io

import pytest
from sqlalchemy import func, select

from lims.db import db
from lims.measurements.models import Measurement, RawFile, SpectrumRecord
from tests.instruments.test_limits import JCAMP_BOMB


@pytest.fixture
def sample(make_user, make_case, make_samples):
    make_user("chemist", username="chem1")
    technician = make_user("technician", username="tech1")
    return make_samples(technician, make_case(technician), 1)[0].lab_number


def assert_nothing_stored(app):
    with app.app_context():
        for model in (Measurement, RawFile, SpectrumRecord):
            assert db.session.scalar(select(func.count()).select_from(model)) == 0, model
    store = app.config["LIMS"].file_store
    assert not [path for path in store.rglob("*") if path.is_file()]


def test_api_upload_of_the_jcamp_bomb_is_a_422_naming_the_point_limit(app, client, sample, api,
                                                                      api_token):
    response = api(client, api_token("chem1")).post(
        f"samples/{sample}/measurements",
        data={"file": (io.BytesIO(JCAMP_BOMB), "bomb.jdx")}, content_type="multipart/form-data")
    assert response.status_code == 422
    body = response.get_json()
    assert body["error"].startswith("Refused by the point limit: the data would expand to "
                                    "19,998,999 points")
    assert body["line"] == 13
    assert_nothing_stored(app)


def test_web_upload_of_the_jcamp_bomb_is_a_422_naming_the_point_limit(app, client, sample,
                                                                      login):
    login(client, "chem1")
    response = client.post(f"/samples/{sample}/measurements/new",
                           data={"file": (io.BytesIO(JCAMP_BOMB), "bomb.jdx")},
                           content_type="multipart/form-data")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Refused by the point limit" in page and "line 13" in page
    assert_nothing_stored(app)
