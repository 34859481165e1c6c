"""Server-side plots: the head-to-tail overlay of mass spectra used on certificates."""

import numpy as np

from lims.plots import overlay_figure, to_png
from lims.series import Series


def _sticks(label: str, role: str) -> Series:
    return Series(label=label, x=np.array([82.0, 182.0, 303.0]), y=np.array([999.0, 950, 250]),
                  x_unit="m/z", y_unit="relative abundance", technique="MS", kind="peaks",
                  role=role)


def test_mirrored_overlay_draws_the_reference_downwards():
    figure = overlay_figure([_sticks("sample", "sample"), _sticks("reference", "reference")],
                            normalised=True, mirrored=True)
    axes = figure.axes[0]
    sample, reference = (collection.get_segments() for collection in axes.collections[:2])
    assert max(segment[1][1] for segment in sample) == 1.0
    assert min(segment[1][1] for segment in reference) == -1.0
    assert axes.get_ylim() == (-1.1, 1.1)
    assert to_png(figure).startswith(b"\x89PNG")


def test_plain_overlay_keeps_every_curve_upwards():
    figure = overlay_figure([_sticks("sample", "sample"), _sticks("reference", "reference")],
                            normalised=True)
    for collection in figure.axes[0].collections[:2]:
        assert min(segment[1][1] for segment in collection.get_segments()) > 0
