"""Every server-side plot: matplotlib Figures (never pyplot), rendered to PNG or SVG bytes."""

from __future__ import annotations

import io

import numpy as np
from matplotlib.figure import Figure

MAX_PLOT_POINTS = 4000


def _decimate(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Min/max decimation so that narrow bands survive while the plot stays small."""
    if x.size <= MAX_PLOT_POINTS:
        return x, y
    buckets = MAX_PLOT_POINTS // 2
    edges = np.linspace(0, x.size, buckets + 1, dtype=int)
    keep = []
    for start, stop in zip(edges[:-1], edges[1:], strict=True):
        chunk = y[start:stop]
        if not chunk.size or np.all(np.isnan(chunk)):
            continue
        lo, hi = start + int(np.nanargmin(chunk)), start + int(np.nanargmax(chunk))
        keep.extend(sorted((lo, hi)))
    index = np.asarray(keep, dtype=int)
    return x[index], y[index]


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
        px, py = _decimate(x, y)
        axes.plot(px, py, linewidth=0.8, color="#1d4f91")
    if technique == "IR" and x_unit == "cm-1" and x.size > 1:
        low, high = np.nanmin(x), np.nanmax(x)
        axes.set_xlim(high, low)
    axes.set_xlabel(x_unit, fontsize=7)
    axes.set_ylabel(y_unit, fontsize=7)
    if title:
        axes.set_title(title[:80], fontsize=8)
    figure.tight_layout()
    return figure


def to_png(figure: Figure) -> bytes:
    """PNG bytes of a figure."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
