"""A plotted curve handed between features: a sample spectrum or a library reference."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Series:
    """One curve to plot or overlay, with its units and where it comes from."""

    label: str
    x: np.ndarray
    y: np.ndarray
    x_unit: str
    y_unit: str
    technique: str
    kind: str = "continuous"  # or "peaks" (stick spectrum)
    role: str = "sample"  # "sample" or "reference"
