"""Laboratory statistics: intake per week, turnaround, substances per month and office.

Counting happens in SQL (GROUP BY over a CASE that maps a time to its week or month bucket:
portable between SQLite and PostgreSQL, no dialect date functions); the bucket edges are
midnights of the laboratory's time zone, computed here.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from matplotlib.figure import Figure
from sqlalchemy import case, func, select
from sqlalchemy.sql import ColumnElement, Select

from lims.certificates.models import Certificate
from lims.csvfile import csv_bytes
from lims.db import db
from lims.errors import Invalid
from lims.findings.models import Finding, FindingSubstance
from lims.intake.models import Case, Sample
from lims.library.models import Substance
from lims.plots import bar_figure, histogram_figure, stacked_bar_figure

MAX_DAYS = 5 * 366
TOP_SUBSTANCES = 8  # the charts stack this many substances; the rest are "other"
STATISTICS = {
    "samples-per-week": "Samples received per week",
    "turnaround": "Turnaround: receipt to first certificate",
    "substances-per-month": "Substances identified per month",
    "substances-per-office": "Substances identified per customs office",
}


@dataclass(frozen=True)
class Period:
    """An inclusive range of calendar days in the laboratory's time zone."""

    start: date
    end: date
    tz: tzinfo

    def moment(self, day: date) -> datetime:
        """Midnight at the start of a day in the lab's zone, as UTC."""
        return datetime.combine(day, time(), self.tz).astimezone(UTC)

    @property
    def start_utc(self) -> datetime:
        """First moment of the period."""
        return self.moment(self.start)

    @property
    def end_utc(self) -> datetime:
        """First moment after the period."""
        return self.moment(self.end + timedelta(days=1))


def default_start(end: date) -> date:
    """The first day of the twelve months that end on `end`."""
    try:
        year_before = end.replace(year=end.year - 1)
    except ValueError:  # 29 February
        year_before = end.replace(year=end.year - 1, day=28)
    return year_before + timedelta(days=1)


def make_period(start: date | None, end: date | None, *, today: date, tz: tzinfo) -> Period:
    """The period asked for (default: the last twelve months up to today), checked."""
    end = end or today
    start = start or default_start(end)
    if start > end:
        raise Invalid("The start date must be on or before the end date.", "start")
    if (end - start).days > MAX_DAYS:
        raise Invalid("Choose a period of at most five years.", "start")
    return Period(start, end, tz)


def _bucket(column: ColumnElement, edges: Sequence[datetime]) -> ColumnElement:
    """Index i of the bucket [edges[i], edges[i+1]) that a time falls in."""
    return case(*[(column < edge, i) for i, edge in enumerate(edges[1:])], else_=None)


def _counts(query: Select, column: ColumnElement, edges: Sequence[datetime],
            *keys: ColumnElement) -> list[tuple]:
    """(bucket, *keys, count) rows of a query, counted per time bucket and key in SQL."""
    inner = query.add_columns(_bucket(column, edges).label("bucket"),
                              *(key.label(f"key{i}") for i, key in enumerate(keys))
                              ).where(column >= edges[0], column < edges[-1]).subquery()
    names = [inner.c.bucket, *(inner.c[f"key{i}"] for i in range(len(keys)))]
    return list(db.session.execute(select(*names, func.count()).group_by(*names)))


def week_starts(period: Period) -> list[date]:
    """Mondays of the weeks the period touches, and the Monday after the last."""
    first = period.start - timedelta(days=period.start.weekday())
    count = (period.end - first).days // 7 + 2
    return [first + timedelta(weeks=i) for i in range(count)]


def month_starts(period: Period) -> list[date]:
    """First days of the months the period touches, and of the month after the last."""
    starts, day = [], period.start.replace(day=1)
    while day <= period.end:
        starts.append(day)
        day = (day + timedelta(days=32)).replace(day=1)
    return [*starts, day]


def _edges(period: Period, starts: list[date]) -> list[datetime]:
    """UTC bucket edges, the first and last clipped to the period."""
    inner = [period.moment(day) for day in starts[1:-1]]
    return [period.start_utc, *inner, period.end_utc]


@dataclass(frozen=True)
class WeekCount:
    """Samples received in one week (Monday start, ISO week number)."""

    start: date
    iso_week: str
    samples: int


def samples_per_week(period: Period) -> list[WeekCount]:
    """Items received (registered at the counter, not sub-samples) per week of the period."""
    starts = week_starts(period)
    counts = dict(_counts(select().select_from(Sample).where(Sample.kind == "item"),
                          Sample.created_at, _edges(period, starts)))
    return [WeekCount(day, "{}-W{:02d}".format(*day.isocalendar()[:2]), counts.get(i, 0))
            for i, day in enumerate(starts[:-1])]


@dataclass(frozen=True)
class CaseTurnaround:
    """One case: received, first certificate issued, days in between."""

    case_number: str
    received_at: datetime
    first_issued_at: datetime

    @property
    def days(self) -> float:
        """Turnaround in days, to a tenth."""
        return round((self.first_issued_at - self.received_at).total_seconds() / 86400, 1)


@dataclass(frozen=True)
class Turnaround:
    """Turnaround of the cases whose first certificate was issued in the period."""

    cases: list[CaseTurnaround]

    @property
    def days(self) -> list[float]:
        """Turnaround of each case in days."""
        return [item.days for item in self.cases]

    @property
    def median(self) -> float | None:
        """Median turnaround in days."""
        return round(statistics.median(self.days), 1) if self.cases else None

    def quantile(self, q: float) -> float | None:
        """A turnaround quantile (nearest rank) in days."""
        if not self.cases:
            return None
        ranked = sorted(self.days)
        return ranked[min(len(ranked) - 1, max(0, math.ceil(q * len(ranked)) - 1))]

    @property
    def bin_edges(self) -> list[float]:
        """Whole-day histogram edges wide enough for every case (about 20 bins at most)."""
        top = max(self.days, default=0.0)
        width = max(1, math.ceil(top / 20))
        return [float(d) for d in range(0, int(top // width + 2) * width, width)]


def turnaround(period: Period) -> Turnaround:
    """Receipt to first certificate, for cases whose first certificate falls in the period."""
    first = func.min(Certificate.issued_at)
    rows = db.session.execute(
        select(Case.case_number, Case.received_at, first.label("first"))
        .join(Certificate, Certificate.case_id == Case.id)
        .group_by(Case.id, Case.case_number, Case.received_at)
        .having(first >= period.start_utc, first < period.end_utc)
        .order_by(first))
    return Turnaround([CaseTurnaround(number, received, issued)
                       for number, received, issued in rows])


@dataclass(frozen=True)
class Breakdown:
    """Identifications counted per category (month or office) and substance."""

    categories: list[str]
    counts: dict[tuple[str, str], int]

    @property
    def substances(self) -> list[str]:
        """Substances, most often identified first."""
        totals: dict[str, int] = {}
        for (_category, substance), n in self.counts.items():
            totals[substance] = totals.get(substance, 0) + n
        return sorted(totals, key=lambda name: (-totals[name], name))

    def stacks(self, top: int = TOP_SUBSTANCES) -> dict[str, list[int]]:
        """Per substance (the top ones, then 'other'), its count in each category."""
        names = self.substances
        stacks = {name: [self.counts.get((c, name), 0) for c in self.categories]
                  for name in names[:top]}
        if len(names) > top:
            stacks["other"] = [sum(self.counts.get((c, name), 0) for name in names[top:])
                               for c in self.categories]
        return stacks

    def rows(self) -> list[tuple[str, str, int]]:
        """(category, substance, count) in category order, most frequent first."""
        order = {name: i for i, name in enumerate(self.substances)}
        return sorted(((c, s, n) for (c, s), n in self.counts.items()),
                      key=lambda row: (self.categories.index(row[0]), order[row[1]]))


def _identified() -> tuple[Select, ColumnElement]:
    """Substances of approved 'identified' findings, and the time of approval."""
    query = (select().select_from(FindingSubstance)
             .join(Finding, Finding.id == FindingSubstance.finding_id)
             .join(Substance, Substance.id == FindingSubstance.substance_id)
             .where(Finding.status == "approved", Finding.result == "identified"))
    return query, Finding.reviewed_at


def substances_per_month(period: Period) -> Breakdown:
    """Identifications per month of approval and substance."""
    query, at = _identified()
    starts = month_starts(period)
    labels = [day.strftime("%Y-%m") for day in starts[:-1]]
    counts = {(labels[bucket], name): n for bucket, name, n in
              _counts(query, at, _edges(period, starts), Substance.name)}
    return Breakdown(labels, counts)


def substances_per_office(period: Period) -> Breakdown:
    """Identifications per submitting customs office and substance, approved in the period."""
    query, at = _identified()
    query = query.join(Sample, Sample.id == Finding.sample_id).join(Case,
                                                                    Case.id == Sample.case_id)
    counts = {(office, name): n for _bucket, name, office, n in
              _counts(query, at, [period.start_utc, period.end_utc], Substance.name,
                      Case.customs_office)}
    totals: dict[str, int] = {}
    for (office, _name), n in counts.items():
        totals[office] = totals.get(office, 0) + n
    return Breakdown(sorted(totals, key=lambda office: (-totals[office], office)), counts)


def statistic_csv(name: str, period: Period) -> bytes:
    """One statistic of the period as CSV."""
    if name == "samples-per-week":
        return csv_bytes(("week_start", "iso_week", "samples"),
                         ((w.start.isoformat(), w.iso_week, w.samples)
                          for w in samples_per_week(period)))
    if name == "turnaround":
        return csv_bytes(("case_number", "received_utc", "first_certificate_utc",
                          "turnaround_days"),
                         ((c.case_number, c.received_at.isoformat(),
                           c.first_issued_at.isoformat(), c.days)
                          for c in turnaround(period).cases))
    if name == "substances-per-month":
        return csv_bytes(("month", "substance", "identifications"),
                         substances_per_month(period).rows())
    return csv_bytes(("customs_office", "substance", "identifications"),
                     substances_per_office(period).rows())


def statistic_figure(name: str, period: Period) -> Figure:
    """One statistic of the period as a chart."""
    title = f"{STATISTICS[name]}, {period.start:%Y-%m-%d} to {period.end:%Y-%m-%d}"
    if name == "samples-per-week":
        weeks = samples_per_week(period)
        return bar_figure([w.iso_week for w in weeks], [w.samples for w in weeks],
                          ylabel="samples received", title=title)
    if name == "turnaround":
        result = turnaround(period)
        median = result.median
        return histogram_figure(result.days, result.bin_edges, xlabel="days", marker=median,
                                marker_label=f"median {median} days" if median is not None
                                else "", title=title)
    breakdown = (substances_per_month if name == "substances-per-month"
                 else substances_per_office)(period)
    return stacked_bar_figure(breakdown.categories, breakdown.stacks(),
                              ylabel="identifications", title=title,
                              horizontal=name == "substances-per-office")
