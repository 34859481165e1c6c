"""Every server-side plot: matplotlib Figures (never pyplot), rendered to PNG or SVG bytes."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib import rc_context
from matplotlib.figure import Figure

from lims.spectra.series import Series

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
                   width: float = 8.0, height: float = 4.0) -> Figure:
    """Several curves on one axis (overlaid or stacked); peaks (x, y, label) of the first one.

    Peaks come most prominent first: a label that would crowd an earlier one is left out.
    """
    figure, axes = _axes(width, height)
    placements = place_series(series, stacked=stacked, normalised=normalised)
    for i, placed in enumerate(placements):
        item, colour = placed.series, COLOURS[i % len(COLOURS)]
        shown = placed.display(item.y)
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
