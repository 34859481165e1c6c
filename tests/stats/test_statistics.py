"""Statistics for the lab head: counts per week, turnaround, substances; charts and CSV."""

import csv
import io
from datetime import UTC, date
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event

from lims.db import db
from lims.stats import services

UTC_PERIOD = {"from": "2026-03-01", "to": "2026-05-31"}


def rows(response) -> list[dict]:
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/csv"
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True), newline="")))


@pytest.fixture
def statistics(app_ctx, scenarios):
    """Three cases in spring 2026 from two offices, with findings and certificates."""
    return scenarios.values("statistics", app_ctx)


def period(start: str, end: str, tz=UTC) -> services.Period:
    return services.make_period(date.fromisoformat(start), date.fromisoformat(end),
                                today=date(2026, 12, 1), tz=tz)


def test_items_received_per_week(statistics):
    weeks = services.samples_per_week(period("2026-03-01", "2026-03-31"))
    assert [(w.iso_week, w.start.isoformat(), w.samples) for w in weeks] == [
        ("2026-W09", "2026-02-23", 0),  # only Sunday 1 March is inside the period
        ("2026-W10", "2026-03-02", 3),
        ("2026-W11", "2026-03-09", 1),
        ("2026-W12", "2026-03-16", 0),
        ("2026-W13", "2026-03-23", 0),
        ("2026-W14", "2026-03-30", 0),
    ]


def test_weeks_follow_the_laboratory_time_zone(statistics):
    # 23:59 UTC on Sunday 8 March is already Monday in Sofia: the item moves to W11.
    weeks = services.samples_per_week(period("2026-03-02", "2026-03-15",
                                             ZoneInfo("Europe/Sofia")))
    assert [(w.iso_week, w.samples) for w in weeks] == [("2026-W10", 2), ("2026-W11", 2)]


def test_turnaround_from_receipt_to_the_first_certificate(statistics):
    result = services.turnaround(period("2026-03-01", "2026-05-31"))
    assert [(c.case_number, c.days) for c in result.cases] == [
        ("CASE-2026-00001", 4.0), ("CASE-2026-00002", 10.0), ("CASE-2026-00003", 12.0)]
    assert result.median == 10.0
    only_march = services.turnaround(period("2026-03-01", "2026-03-31"))
    assert only_march.days == [4.0, 10.0] and only_march.median == 7.0


def test_substances_identified_per_month_and_office(statistics):
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


def test_the_page_shows_every_statistic_with_charts_and_csv(client, login, statistics):
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


def test_csv_downloads_carry_the_numbers(client, login, statistics):
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


def test_bad_dates_are_refused_naming_the_field(client, login, statistics):
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


def test_statistics_are_counted_in_sql(statistics):
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
