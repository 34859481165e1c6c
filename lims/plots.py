"""Every server-side plot: matplotlib Figures (never pyplot), rendered to PNG or SVG bytes."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo

import numpy as np
from matplotlib import rc_context
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter, date2num
from matplotlib.figure import Figure

from lims.series import Series

MAX_PLOT_POINTS = 4000
COLOURS = ("#1d4f91", "#b3261e", "#1e7b34", "#8a4baf", "#a64b00", "#00707a", "#555555")
STACK_GAP = 1.1  # stacked curves sit this many times their tallest span apart


def decimate(x: np.ndarray, y: np.ndarray,
             max_points: int = MAX_PLOT_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """Min/max decimation so that narrow bands survive while the plot stays small."""
    if x.size <= max_points:
        return x, y
    buckets = max_points // 2
    edges = np.linspace(0, x.size, buckets + 1, dtype=int)
    keep = []
    for start, stop in zip(edges[:-1], edges[1:], strict=True):
        chunk = y[start:stop]
        if not chunk.size or np.all(np.isnan(chunk)):
            continue
        lo, hi = start + int(np.nanargmin(chunk)), start + int(np.nanargmax(chunk))
        keep.extend(sorted({lo, hi}))
    index = np.asarray(keep, dtype=int)
    return x[index], y[index]


def reverse_x(technique: str, x_unit: str) -> bool:
    """True where convention draws x from high to low (IR wavenumbers; Raman runs upwards)."""
    return technique == "IR" and x_unit == "cm-1"


def peak_label(x: float, x_unit: str) -> str:
    """A peak position as printed on a plot: whole wavenumbers, else 6 significant digits."""
    return f"{x:.0f}" if x_unit == "cm-1" else f"{x:.6g}"


@dataclass(frozen=True)
class Placement:
    """Where a curve is drawn: its values times `scale` plus `offset`."""

    series: Series
    scale: float
    offset: float

    def display(self, values: np.ndarray) -> np.ndarray:
        """Values of this curve as drawn."""
        return np.asarray(values, dtype=np.float64) * self.scale + self.offset


def place_series(series: Sequence[Series], *, stacked: bool,
                 normalised: bool) -> list[Placement]:
    """Scale (max |y| = 1 when normalised) and offset (first on top when stacked) each curve."""
    scales = []
    for item in series:
        peak = float(np.nanmax(np.abs(item.y))) if normalised and item.y.size else 0.0
        scales.append(1.0 / peak if peak and np.isfinite(peak) else 1.0)
    if not stacked:
        return [Placement(item, scale, 0.0) for item, scale in zip(series, scales, strict=True)]
    lows, spans = [], []
    for item, scale in zip(series, scales, strict=True):
        finite = item.y[np.isfinite(item.y)] * scale
        lows.append(float(finite.min()) if finite.size else 0.0)
        spans.append(float(np.ptp(finite)) if finite.size else 0.0)
    step = STACK_GAP * (max(spans, default=0.0) or 1.0)
    count = len(series)
    return [Placement(item, scale, (count - 1 - i) * step - low)
            for i, (item, scale, low) in enumerate(zip(series, scales, lows, strict=True))]


def overlay_figure(series: Sequence[Series], *, stacked: bool = False, normalised: bool = False,
                   peaks: Sequence[tuple[float, float, str]] = (), title: str = "",
                   width: float = 8.0, height: float = 4.0, mirrored: bool = False) -> Figure:
    """Several curves on one axis (overlaid or stacked); peaks (x, y, label) of the first one.

    Peaks come most prominent first: a label that would crowd an earlier one is left out.
    mirrored draws the curves after the first downwards (the head-to-tail plot of mass spectra).
    """
    figure, axes = _axes(width, height)
    placements = place_series(series, stacked=stacked, normalised=normalised)
    for i, placed in enumerate(placements):
        item, colour = placed.series, COLOURS[i % len(COLOURS)]
        shown = placed.display(item.y)
        if mirrored and i > 0:
            shown = -shown
        if item.kind == "peaks":
            axes.vlines(item.x, placed.offset, shown, linewidth=0.8, color=colour,
                        label=item.label[:60])
        else:
            px, py = decimate(item.x, shown)
            axes.plot(px, py, linewidth=0.8, color=colour, label=item.label[:60])
    if placements and peaks:
        first = placements[0]
        span = np.ptp(np.concatenate([s.x for s in series])) or 1.0
        labelled: list[float] = []
        for x, y, label in peaks:  # most prominent first; crowded labels are left out
            shown = float(first.display(np.array([y]))[0])
            axes.plot([x], [shown], linestyle="none", marker="v", markersize=3, color="#222222")
            if all(abs(x - other) > span / 70 for other in labelled):
                labelled.append(x)
                axes.annotate(label, (x, shown), textcoords="offset points", xytext=(0, 5),
                              ha="center", va="bottom", fontsize=6, rotation=90)
    if series:
        first = series[0]
        finite = np.concatenate([s.x[np.isfinite(s.x)] for s in series])
        if reverse_x(first.technique, first.x_unit) and finite.size > 1:
            axes.set_xlim(finite.max(), finite.min())
        axes.set_xlabel(first.x_unit, fontsize=7)
        axes.set_ylabel(first.y_unit + (" (offset)" if stacked else ""), fontsize=7)
        axes.legend(fontsize=6, loc="best", frameon=False)
    if mirrored:
        axes.axhline(0, linewidth=0.6, color="#222222")
        axes.set_ylim(-1.1 if normalised else None, 1.1 if normalised else None)
    if title:
        axes.set_title(title[:80], fontsize=8)
    figure.tight_layout()
    return figure


def _axes(width: float, height: float):
    figure = Figure(figsize=(width, height), dpi=100)
    axes = figure.add_subplot()
    axes.tick_params(labelsize=7)
    return figure, axes


def spectrum_figure(x: np.ndarray, y: np.ndarray, *, x_unit: str, y_unit: str,
                    technique: str, kind: str, title: str = "", width: float = 4.0,
                    height: float = 2.2) -> Figure:
    """A spectrum as a line, or a peak list as sticks; IR wavenumbers run right to left."""
    figure, axes = _axes(width, height)
    if kind == "peaks":
        axes.vlines(x, 0, y, linewidth=0.8, color="#1d4f91")
        axes.set_ylim(bottom=0)
    else:
        px, py = decimate(x, y)
        axes.plot(px, py, linewidth=0.8, color="#1d4f91")
    if reverse_x(technique, x_unit) and x.size > 1:
        low, high = np.nanmin(x), np.nanmax(x)
        axes.set_xlim(high, low)
    axes.set_xlabel(x_unit, fontsize=7)
    axes.set_ylabel(y_unit, fontsize=7)
    if title:
        axes.set_title(title[:80], fontsize=8)
    figure.tight_layout()
    return figure


def to_svg(figure: Figure) -> bytes:
    """SVG bytes of a figure (text kept as text, no timestamp, so the bytes are stable)."""
    buffer = io.BytesIO()
    with rc_context({"svg.fonttype": "none", "svg.hashsalt": "lims"}):
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    return buffer.getvalue()


def to_png(figure: Figure) -> bytes:
    """PNG bytes of a figure."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _chart_axes(width: float, height: float):
    """Axes for charts shown at their natural size on a page: slightly larger text."""
    figure, axes = _axes(width, height)
    axes.tick_params(labelsize=8)
    return figure, axes


TIMELINE_KINDS = {"received": ("#1e7b34", "o"), "custody": ("#1d4f91", "s"),
                  "analysis": ("#a64b00", "D"), "finding": ("#8a4baf", "^"),
                  "certificate": ("#00707a", "*"), "withdrawn": ("#b3261e", "X")}


def timeline_figure(points: Sequence[tuple[datetime, str, str]], lanes: Sequence[str], *,
                    tz: tzinfo, title: str = "") -> Figure:
    """Dated steps (time, lane, kind) as markers on one row per lane, dates in the zone tz."""
    height = 1.2 + 0.38 * max(len(lanes), 1)
    figure, axes = _chart_axes(8.0, height)
    rows = {lane: i for i, lane in enumerate(lanes)}
    for kind, (colour, marker) in TIMELINE_KINDS.items():
        chosen = [(at, rows[lane]) for at, lane, k in points if k == kind and lane in rows]
        if chosen:
            axes.scatter([date2num(at) for at, _ in chosen], [row for _, row in chosen],
                         s=42 if marker == "*" else 26, marker=marker, color=colour,
                         label=kind, zorder=3)
    axes.set_yticks(range(len(lanes)), [lane[:24] for lane in lanes], fontsize=8)
    axes.set_ylim(len(lanes) - 0.5, -0.5)
    axes.grid(axis="y", color="#dddddd", linewidth=0.6)
    locator = AutoDateLocator(tz=tz, maxticks=8)
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(ConciseDateFormatter(locator, tz=tz))
    if points:
        axes.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.18 * 2.6 / height),
                    ncol=len(TIMELINE_KINDS), frameon=False)
    if title:
        axes.set_title(title[:80], fontsize=9)
    figure.tight_layout()
    return figure


def bar_figure(labels: Sequence[str], values: Sequence[float], *, ylabel: str,
               title: str = "") -> Figure:
    """One bar per label (e.g. samples received per week), every label under its bar."""
    figure, axes = _chart_axes(8.0, 3.2)
    positions = np.arange(len(labels))
    axes.bar(positions, values, color=COLOURS[0], width=0.8)
    step = max(1, len(labels) // 16)  # at most ~16 tick labels stay readable
    axes.set_xticks(positions[::step], [labels[i] for i in positions[::step]], fontsize=8,
                    rotation=45, ha="right")
    axes.set_ylabel(ylabel, fontsize=8)
    axes.yaxis.get_major_locator().set_params(integer=True)
    if title:
        axes.set_title(title[:80], fontsize=9)
    figure.tight_layout()
    return figure


def histogram_figure(values: Sequence[float], edges: Sequence[float], *, xlabel: str,
                     marker: float | None = None, marker_label: str = "",
                     title: str = "") -> Figure:
    """A histogram over fixed bin edges, with an optional vertical marker (e.g. the median)."""
    figure, axes = _chart_axes(8.0, 3.2)
    axes.hist(values, bins=list(edges), color=COLOURS[0], edgecolor="#ffffff")
    if marker is not None:
        axes.axvline(marker, color=COLOURS[1], linewidth=1.2, label=marker_label)
        axes.legend(fontsize=8, frameon=False)
    axes.set_xlabel(xlabel, fontsize=8)
    axes.set_ylabel("count", fontsize=8)
    axes.yaxis.get_major_locator().set_params(integer=True)
    if title:
        axes.set_title(title[:80], fontsize=9)
    figure.tight_layout()
    return figure


def stacked_bar_figure(categories: Sequence[str], stacks: Mapping[str, Sequence[float]], *,
                       ylabel: str, horizontal: bool = False, title: str = "") -> Figure:
    """Bars per category stacked by series (e.g. substances per month), with a legend."""
    figure, axes = _chart_axes(8.0, max(3.2, 0.9 + 0.3 * len(categories)) if horizontal
                               else 3.4)
    positions = np.arange(len(categories))
    base = np.zeros(len(categories))
    for i, (name, values) in enumerate(stacks.items()):
        values = np.asarray(values, dtype=float)
        colour = COLOURS[i % len(COLOURS)]
        if horizontal:
            axes.barh(positions, values, left=base, color=colour, label=name[:40])
        else:
            axes.bar(positions, values, bottom=base, color=colour, label=name[:40], width=0.8)
        base += values
    names = [category[:30] for category in categories]
    if horizontal:
        axes.set_yticks(positions, names, fontsize=8)
        axes.invert_yaxis()
        axes.set_xlabel(ylabel, fontsize=8)
        axes.xaxis.get_major_locator().set_params(integer=True)
    else:
        axes.set_xticks(positions, names, fontsize=8, rotation=45, ha="right")
        axes.set_ylabel(ylabel, fontsize=8)
        axes.yaxis.get_major_locator().set_params(integer=True)
    if stacks:
        axes.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    if title:
        axes.set_title(title[:80], fontsize=9)
    figure.tight_layout()
    return figure
