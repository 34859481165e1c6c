"""Statistics for the lab head: counts per week, turnaround, substances; charts and CSV."""

import csv
import io
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event

from lims.auth.models import User
from lims.db import db
from lims.intake.models import Case, Sample
from lims.intake.services import register_subsample
from lims.stats import services
from tests.stats.data import approved_finding, issued_certificate

UTC_PERIOD = {"from": "2026-03-01", "to": "2026-05-31"}


def at(text: str) -> datetime:
    """An aware UTC time from 'YYYY-MM-DD HH:MM'."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def rows(response) -> list[dict]:
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/csv"
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True), newline="")))


def case_with_items(actor: User, offices: str, received: str, item_times: list[str],
                    make_case, make_samples) -> Case:
    """A case received at a time, with items registered at the given times."""
    case = make_case(actor, customs_office=offices)
    samples = make_samples(actor, case, len(item_times))
    db.session.get(Case, case.id).received_at = at(received)
    for sample, when in zip(samples, item_times, strict=True):
        db.session.get(Sample, sample.id).created_at = at(when)
    db.session.commit()
    return db.session.get(Case, case.id)


@pytest.fixture
def lab(app_ctx, make_user, make_case, make_samples):
    """Three cases in spring 2026 from two offices, with findings and certificates."""
    tech = make_user("technician", "tech")
    rev = make_user("reviewer", "head")
    make_user("admin", "admin")
    # Week 2026-W10 runs Monday 2 March to Sunday 8 March.
    a = case_with_items(tech, "Sofia Airport", "2026-03-02 08:00",
                        ["2026-03-02 08:00", "2026-03-04 12:00", "2026-03-08 23:59"],
                        make_case, make_samples)
    b = case_with_items(tech, "Varna Port", "2026-03-09 00:00", ["2026-03-09 00:00"],
                        make_case, make_samples)
    c = case_with_items(tech, "Sofia Airport", "2026-04-20 10:00", ["2026-04-20 10:00"],
                        make_case, make_samples)
    register_subsample(tech, a.samples[0], {"description": "sub", "unit_count": 1})
    db.session.commit()  # a sub-sample is not an item received
    findings = [
        approved_finding(rev, a.samples[0], ["Cocaine"], at("2026-03-06 10:00")),
        approved_finding(rev, a.samples[1], ["Cocaine", "Levamisole"], at("2026-03-20 10:00")),
        approved_finding(rev, b.samples[0], ["Heroin"], at("2026-04-02 10:00")),
        approved_finding(rev, c.samples[0], ["Cocaine"], at("2026-05-02 10:00"), version=2),
        approved_finding(rev, a.samples[2], [], at("2026-03-21 10:00"), result="not_detected"),
        approved_finding(rev, c.samples[0], ["Cannabis"], at("2026-04-25 10:00"),
                         status="superseded"),
    ]
    issued_certificate(rev, findings[0], at("2026-03-06 08:00"))  # case a: 4 days
    issued_certificate(rev, findings[1], at("2026-03-20 08:00"))  # later: not the first
    issued_certificate(rev, findings[2], at("2026-03-19 00:00"))  # case b: 10 days
    issued_certificate(rev, findings[3], at("2026-05-02 10:00"))  # case c: 12 days
    db.session.commit()
    return {"tech": tech, "head": rev}


def period(start: str, end: str, tz=UTC) -> services.Period:
    return services.make_period(date.fromisoformat(start), date.fromisoformat(end),
                                today=date(2026, 12, 1), tz=tz)


def test_items_received_per_week(lab):
    weeks = services.samples_per_week(period("2026-03-01", "2026-03-31"))
    assert [(w.iso_week, w.start.isoformat(), w.samples) for w in weeks] == [
        ("2026-W09", "2026-02-23", 0),  # only Sunday 1 March is inside the period
        ("2026-W10", "2026-03-02", 3),
        ("2026-W11", "2026-03-09", 1),
        ("2026-W12", "2026-03-16", 0),
        ("2026-W13", "2026-03-23", 0),
        ("2026-W14", "2026-03-30", 0),
    ]


def test_weeks_follow_the_laboratory_time_zone(lab):
    # 23:59 UTC on Sunday 8 March is already Monday in Sofia: the item moves to W11.
    weeks = services.samples_per_week(period("2026-03-02", "2026-03-15",
                                             ZoneInfo("Europe/Sofia")))
    assert [(w.iso_week, w.samples) for w in weeks] == [("2026-W10", 2), ("2026-W11", 2)]


def test_turnaround_from_receipt_to_the_first_certificate(lab):
    result = services.turnaround(period("2026-03-01", "2026-05-31"))
    assert [(c.case_number, c.days) for c in result.cases] == [
        ("CASE-2026-00001", 4.0), ("CASE-2026-00002", 10.0), ("CASE-2026-00003", 12.0)]
    assert result.median == 10.0
    only_march = services.turnaround(period("2026-03-01", "2026-03-31"))
    assert only_march.days == [4.0, 10.0] and only_march.median == 7.0


def test_substances_identified_per_month_and_office(lab):
    spring = period("2026-03-01", "2026-05-31")
    per_month = services.substances_per_month(spring)
    assert per_month.categories == ["2026-03", "2026-04", "2026-05"]
    assert per_month.rows() == [("2026-03", "Cocaine", 2), ("2026-03", "Levamisole", 1),
                                ("2026-04", "Heroin", 1), ("2026-05", "Cocaine", 1)]
    assert per_month.stacks()["Cocaine"] == [2, 0, 1]
    per_office = services.substances_per_office(spring)
    assert per_office.categories == ["Sofia Airport", "Varna Port"]
    assert per_office.rows() == [("Sofia Airport", "Cocaine", 3),
                                 ("Sofia Airport", "Levamisole", 1), ("Varna Port", "Heroin", 1)]


def test_the_default_period_is_the_last_twelve_months():
    made = services.make_period(None, None, today=date(2026, 12, 1), tz=UTC)
    assert (made.start, made.end) == (date(2025, 12, 2), date(2026, 12, 1))
    leap = services.make_period(None, date(2028, 2, 29), today=date(2028, 3, 1), tz=UTC)
    assert leap.start == date(2027, 3, 1)


def test_the_page_shows_every_statistic_with_charts_and_csv(client, login, lab):
    db.session.rollback()  # the requests below run in this app context
    login(client, "head")
    page = client.get("/statistics?from=2026-03-01&to=2026-05-31").get_data(as_text=True)
    assert "<strong>5</strong> item(s) received" in page and "2026-W10 with 3" in page
    assert "<strong>10.0 days</strong>" in page
    assert "Levamisole" in page and "Varna Port" in page
    for name in services.STATISTICS:
        assert f"/statistics/{name}.png?from=2026-03-01&amp;to=2026-05-31" in page
        assert f"/statistics/{name}.csv?from=2026-03-01&amp;to=2026-05-31" in page
        chart = client.get(f"/statistics/{name}.png", query_string=UTC_PERIOD)
        assert chart.mimetype == "image/png" and chart.data.startswith(b"\x89PNG"), name


def test_csv_downloads_carry_the_numbers(client, login, lab):
    db.session.rollback()
    login(client, "head")
    weeks = rows(client.get("/statistics/samples-per-week.csv", query_string=UTC_PERIOD))
    assert {r["iso_week"]: int(r["samples"]) for r in weeks}["2026-W10"] == 3
    assert sum(int(r["samples"]) for r in weeks) == 5
    cases = rows(client.get("/statistics/turnaround.csv", query_string=UTC_PERIOD))
    assert [float(r["turnaround_days"]) for r in cases] == [4.0, 10.0, 12.0]
    offices = rows(client.get("/statistics/substances-per-office.csv", query_string=UTC_PERIOD))
    assert offices[0] == {"customs_office": "Sofia Airport", "substance": "Cocaine",
                          "identifications": "3"}
    months = rows(client.get("/statistics/substances-per-month.csv", query_string=UTC_PERIOD))
    assert len(months) == 4


def test_bad_dates_are_refused_naming_the_field(client, login, lab):
    db.session.rollback()
    login(client, "head")
    response = client.get("/statistics?from=2026-13-01")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "There is a problem" in page and 'href="#from"' in page and "2026-13-01" in page
    backwards = client.get("/statistics?from=2026-05-01&to=2026-04-01")
    assert backwards.status_code == 422
    assert "on or before the end date" in backwards.get_data(as_text=True)
    assert client.get("/statistics/turnaround.csv?to=yesterday").status_code == 422
    assert client.get("/statistics/unknown.csv").status_code == 404


@pytest.mark.parametrize("role", ["technician", "chemist", "investigator"])
def test_only_the_lab_head_roles_see_statistics(client, login, make_user, role):
    user = make_user(role)
    login(client, user.username)
    for path in ("/statistics", "/statistics/turnaround.png", "/statistics/turnaround.csv"):
        assert client.get(path).status_code == 403, path


def test_statistics_are_counted_in_sql(lab):
    """One grouped query per statistic, however many samples there are."""
    statements = []

    def listener(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        services.samples_per_week(period("2026-03-01", "2026-05-31"))
        services.substances_per_office(period("2026-03-01", "2026-05-31"))
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 2 and all("GROUP BY" in s for s in selects)
