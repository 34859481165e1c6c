"""Small instrument files made in the tests: the one JCAMP-DX writer, synthetic IR bands."""

import numpy as np

AXIS = np.arange(4000.0, 399.0, -4.0)


def jcamp_block(title: str, x, y, *, yunits: str = "ABSORBANCE",
                data_type: str = "INFRARED SPECTRUM", labels: dict | None = None) -> str:
    """One JCAMP-DX 4.24 block of (X, Y) pairs in 1/CM (XYPOINTS, AFFN), with extra labels."""
    lines = [f"##TITLE={title}", "##JCAMP-DX=4.24", f"##DATA TYPE={data_type}",
             *(f"##{key}={value}" for key, value in (labels or {}).items()),
             "##XUNITS=1/CM", f"##YUNITS={yunits}", f"##NPOINTS={len(x)}",
             "##XYPOINTS=(XY..XY)", *(f"{a:g}, {b:.9g}" for a, b in zip(x, y, strict=True)),
             "##END="]
    return "\n".join(lines) + "\n"


def jcamp(title: str, bands, yunits: str = "ABSORBANCE", baseline: float = 0.0) -> bytes:
    """A JCAMP-DX IR file with Gaussian bands (centre, height) on 4000 -> 400 cm-1."""
    y = baseline + sum(h * np.exp(-0.5 * ((AXIS - c) / 8.0) ** 2) for c, h in bands)
    return jcamp_block(title, AXIS, y, yunits=yunits).encode()
