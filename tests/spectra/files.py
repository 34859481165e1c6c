"""Small instrument files made in the tests (synthetic spectra with known bands)."""

import numpy as np

AXIS = np.arange(4000.0, 399.0, -4.0)


def jcamp(title: str, bands, yunits: str = "ABSORBANCE", baseline: float = 0.0) -> bytes:
    """A JCAMP-DX IR file with Gaussian bands (centre, height) on 4000 -> 400 cm-1."""
    y = baseline + sum(h * np.exp(-0.5 * ((AXIS - c) / 8.0) ** 2) for c, h in bands)
    lines = [f"##TITLE={title}", "##JCAMP-DX=4.24", "##DATA TYPE=INFRARED SPECTRUM",
             "##XUNITS=1/CM", f"##YUNITS={yunits}", "##XFACTOR=1.0", "##YFACTOR=0.0001",
             f"##FIRSTX={AXIS[0]:g}", f"##LASTX={AXIS[-1]:g}", f"##NPOINTS={AXIS.size}",
             f"##FIRSTY={y[0]:g}", "##XYDATA=(X++(Y..Y))"]
    lines += [f"{x:g} {round(v / 0.0001)}" for x, v in zip(AXIS, y, strict=True)]
    return ("\n".join([*lines, "##END="]) + "\n").encode()
