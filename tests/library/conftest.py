"""Library test helpers: small library files made in the test."""

from __future__ import annotations

import numpy as np

from tests.files import jcamp_block


def msp(*records: dict) -> bytes:
    """An MSP file: each record has name, peaks and optional cas, formula, synonyms."""
    out = []
    for r in records:
        lines = [f"Name: {r['name']}", *(f"Synon: {s}" for s in r.get("synonyms", ()))]
        if "formula" in r:
            lines.append(f"Formula: {r['formula']}")
        if "cas" in r:
            lines.append(f"CAS#: {r['cas']}")
        lines.append(f"Num Peaks: {len(r['peaks'])}")
        lines += [f"{mz} {i}" for mz, i in r["peaks"]]
        out.append("\n".join(lines))
    return ("\n\n".join(out) + "\n").encode()


COCAINE = {"name": "Cocaine", "cas": "50-36-2", "formula": "C17H21NO4",
           "synonyms": ["Benzoylmethylecgonine"], "peaks": [(82, 999), (182, 900), (303, 250)]}
AMPHETAMINE = {"name": "Amphetamine", "peaks": [(44, 999), (91, 220), (65, 90)]}
SMALL_MSP = msp(COCAINE, AMPHETAMINE)


def jcamp_ir(title: str, y, *, yunits: str = "ABSORBANCE", cas: str = "",
             technique: str = "INFRARED SPECTRUM") -> str:
    """One small IR JCAMP-DX block on 4000..3982 cm-1 (10 points)."""
    labels = {"ORIGIN": "test", "OWNER": "public domain"}
    if cas:
        labels["CAS REGISTRY NO"] = cas
    return jcamp_block(title, np.arange(4000.0, 3980.0, -2.0), y, yunits=yunits,
                       data_type=technique, labels=labels)
