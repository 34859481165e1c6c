"""The demo reference libraries: synthetic IR and EI-MS spectra of common seizure substances.

Everything here is made up for demonstration: band positions and ions are plausible, not
measured, and the libraries are named "not for casework". CAS numbers are real (their check
digits are verified on import); legal-status entries carry only dates stated in the treaties
and regulations themselves (entry into force), and say they are demo data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
from sqlalchemy import select

from lims.auth.models import User
from lims.db import db
from lims.library.models import ReferenceLibrary, Substance
from lims.library.services import add_legal_status, import_library

LIBRARY_NAME = "Customs demo library (synthetic, not for casework)"
LIBRARY_VERSION = "2026.1"
IR_X = np.arange(4000.0, 599.0, -2.0)
DEMO_NOTE = "Demo data, not verified for casework."

UN1961 = ("UN Single Convention 1961", date(1964, 12, 13),
          "Single Convention on Narcotic Drugs, 1961 (in force 13 December 1964).")
UN1971 = ("UN Convention 1971", date(1976, 8, 16),
          "Convention on Psychotropic Substances, 1971 (in force 16 August 1976).")
UN1988 = ("UN Convention 1988", date(1990, 11, 11),
          "UN Convention against Illicit Traffic in Narcotic Drugs and Psychotropic "
          "Substances, 1988 (in force 11 November 1990).")
EU273 = ("EU Regulation 273/2004 (precursors)", date(2005, 8, 18),
         "Regulation (EC) No 273/2004, Annex I (applies from 18 August 2005).")
EU111 = ("EU Regulation 111/2005 (precursors, external trade)", date(2005, 8, 18),
         "Council Regulation (EC) No 111/2005, Annex (applies from 18 August 2005).")


@dataclass(frozen=True)
class DemoSubstance:
    """A substance of the demo libraries with its synthetic spectra and legal status."""

    name: str
    cas: str
    formula: str
    synonyms: tuple[str, ...]
    ir_bands: tuple[tuple[float, float, float], ...]  # centre cm-1, width cm-1, absorbance
    ions: tuple[tuple[int, int], ...]  # m/z, relative abundance (base peak 999)
    status: tuple[tuple[tuple[str, date, str], str], ...] = ()


COCAINE_BANDS = ((2940, 30, 0.25), (1730, 14, 0.9), (1710, 12, 0.75), (1275, 18, 0.6),
                 (1105, 16, 0.55), (1030, 20, 0.45), (735, 10, 0.35))
SUBSTANCES = (
    DemoSubstance("Cocaine hydrochloride", "53-21-4", "C17H22ClNO4",
                  ("Cocaine HCl", "Benzoylmethylecgonine hydrochloride"), COCAINE_BANDS,
                  ((82, 999), (182, 950), (94, 420), (105, 360), (77, 300), (83, 260),
                   (303, 250), (198, 120), (42, 200), (272, 50)),
                  ((UN1961, "Schedule I"),)),
    DemoSubstance("Diacetylmorphine", "561-27-3", "C21H23NO5",
                  ("Heroin", "Diamorphine", "3,6-Diacetylmorphine"),
                  ((2930, 30, 0.2), (1760, 14, 0.85), (1735, 14, 0.7), (1245, 18, 0.8),
                   (1195, 16, 0.5), (1040, 18, 0.45), (950, 12, 0.35)),
                  ((327, 999), (369, 700), (268, 600), (310, 350), (215, 250), (204, 300),
                   (43, 500), (146, 120)),
                  ((UN1961, "Schedule I"), (UN1961, "Schedule IV"))),
    DemoSubstance("Amphetamine sulfate", "60-13-9", "(C9H13N)2.H2SO4",
                  ("Amphetamine sulphate", "(±)-1-Phenylpropan-2-amine sulfate", "Speed"),
                  ((2950, 160, 0.35), (1610, 14, 0.3), (1495, 12, 0.35), (1455, 12, 0.3),
                   (1120, 30, 0.95), (740, 10, 0.4), (700, 10, 0.45)),
                  ((44, 999), (91, 220), (65, 90), (42, 60), (120, 30), (134, 10)),
                  ((UN1971, "Schedule II"),)),
    DemoSubstance("MDMA hydrochloride", "64057-70-1", "C11H16ClNO2",
                  ("3,4-Methylenedioxymethamphetamine hydrochloride", "Ecstasy"),
                  ((2700, 150, 0.3), (1500, 12, 0.5), (1490, 10, 0.45), (1445, 12, 0.35),
                   (1250, 18, 0.85), (1040, 16, 0.6), (930, 12, 0.4), (810, 12, 0.35)),
                  ((58, 999), (135, 200), (77, 80), (136, 60), (51, 40), (105, 30),
                   (193, 20))),
    DemoSubstance("Ketamine hydrochloride", "1867-66-9", "C13H17Cl2NO",
                  ("Ketamine HCl",),
                  ((2950, 40, 0.3), (1720, 14, 0.9), (1590, 12, 0.35), (1450, 14, 0.3),
                   (1270, 16, 0.4), (1120, 16, 0.35), (750, 12, 0.45)),
                  ((180, 999), (182, 320), (209, 250), (152, 250), (138, 200), (166, 90),
                   (237, 50), (239, 20))),
    DemoSubstance("Caffeine", "58-08-2", "C8H10N4O2", ("1,3,7-Trimethylxanthine", "Guaranine"),
                  ((3110, 20, 0.15), (1700, 14, 0.85), (1655, 14, 0.95), (1550, 12, 0.5),
                   (1485, 12, 0.4), (1240, 14, 0.45), (745, 10, 0.4)),
                  ((194, 999), (109, 600), (67, 350), (82, 300), (55, 300), (42, 250),
                   (165, 80))),
    DemoSubstance("Paracetamol", "103-90-2", "C8H9NO2", ("Acetaminophen", "4-Acetamidophenol"),
                  ((3320, 30, 0.4), (3160, 60, 0.3), (1655, 14, 0.8), (1610, 12, 0.5),
                   (1565, 12, 0.55), (1505, 12, 0.75), (1245, 16, 0.5), (835, 12, 0.4)),
                  ((109, 999), (151, 550), (43, 300), (81, 200), (80, 180), (53, 150))),
    DemoSubstance("Lactose", "63-42-3", "C12H22O11",
                  ("Milk sugar", "4-O-β-D-Galactopyranosyl-D-glucose"),
                  ((3350, 120, 0.45), (2900, 40, 0.2), (1120, 20, 0.5), (1070, 22, 0.9),
                   (1030, 18, 0.8), (900, 12, 0.3), (880, 12, 0.25)),
                  ((60, 999), (73, 800), (85, 500), (57, 450), (43, 400), (97, 200),
                   (163, 60))),
    DemoSubstance("Mannitol", "69-65-8", "C6H14O6", ("D-Mannitol", "Mannite"),
                  ((3280, 110, 0.5), (2950, 30, 0.2), (1420, 14, 0.25), (1080, 20, 0.85),
                   (1020, 20, 0.9), (880, 12, 0.3)),
                  ((73, 999), (61, 800), (103, 500), (43, 450), (91, 300), (133, 80))),
    DemoSubstance("1-Phenyl-2-propanone", "103-79-7", "C9H10O",
                  ("BMK", "P-2-P", "Phenylacetone", "Benzyl methyl ketone"),
                  ((3030, 20, 0.15), (1715, 14, 0.95), (1495, 12, 0.35), (1455, 12, 0.3),
                   (1355, 12, 0.45), (1160, 14, 0.4), (735, 10, 0.45), (700, 10, 0.55)),
                  ((91, 999), (43, 600), (134, 200), (65, 150), (92, 100), (119, 40)),
                  ((UN1988, "Table I"), (EU273, "Category 1"), (EU111, "Category 1"))),
    DemoSubstance("Ephedrine", "299-42-3", "C10H15NO",
                  ("(1R,2S)-2-Methylamino-1-phenylpropan-1-ol",),
                  ((3300, 60, 0.35), (2970, 30, 0.25), (1450, 12, 0.3), (1050, 16, 0.7),
                   (1010, 14, 0.5), (750, 10, 0.45), (700, 10, 0.5)),
                  ((58, 999), (77, 80), (79, 80), (105, 50), (146, 30), (51, 30)),
                  ((UN1988, "Table I"), (EU273, "Category 1"), (EU111, "Category 1"))),
)


def ir_absorbance(bands: tuple[tuple[float, float, float], ...]) -> np.ndarray:
    """A synthetic absorbance spectrum on IR_X: a small offset and Gaussian bands."""
    return 0.02 + sum(h * np.exp(-((IR_X - c) / w) ** 2) for c, w, h in bands)


def noisy_cocaine_absorbance(seed: int = 2026) -> np.ndarray:
    """The cocaine entry as a sample would give it: scaled, sloped baseline, noise."""
    rng = np.random.default_rng(seed)
    baseline = 0.01 + 0.015 * (IR_X - IR_X[-1]) / (IR_X[0] - IR_X[-1])
    return 0.8 * ir_absorbance(COCAINE_BANDS) + baseline + rng.normal(0, 0.004, IR_X.size)


def jcamp_ir_block(title: str, y: np.ndarray, labels: dict[str, str]) -> str:
    """One JCAMP-DX 4.24 IR absorbance block (AFFN X++(Y..Y)) on IR_X."""
    lines = [f"##TITLE={title}", "##JCAMP-DX=4.24", "##DATA TYPE=INFRARED SPECTRUM",
             *(f"##{key}={value}" for key, value in labels.items()),
             "##XUNITS=1/CM", "##YUNITS=ABSORBANCE", "##XFACTOR=1", "##YFACTOR=0.0001",
             f"##FIRSTX={IR_X[0]:g}", f"##LASTX={IR_X[-1]:g}", f"##NPOINTS={IR_X.size}",
             f"##FIRSTY={y[0]:.4f}", "##XYDATA=(X++(Y..Y))"]
    counts = np.rint(y / 0.0001).astype(int)
    for start in range(0, IR_X.size, 10):
        lines.append(f"{IR_X[start]:g} " + " ".join(str(v) for v in counts[start:start + 10]))
    lines.append("##END=")
    return "\n".join(lines) + "\n"


def ir_library_file() -> bytes:
    """The demo IR library: one JCAMP-DX block per substance."""
    return "".join(jcamp_ir_block(s.name, ir_absorbance(s.ir_bands), {
        "ORIGIN": "Customs LIMS demo data (synthetic)", "OWNER": "public domain",
        "CAS REGISTRY NO": s.cas, "MOLFORM": s.formula}) for s in SUBSTANCES).encode()


def ms_library_file() -> bytes:
    """The demo EI mass-spectral library as NIST MSP text."""
    records = []
    for s in SUBSTANCES:
        lines = [f"Name: {s.name}", *(f"Synon: {name}" for name in s.synonyms),
                 f"Formula: {s.formula}", f"CAS#: {s.cas}",
                 "Comments: synthetic demo spectrum, not for casework",
                 f"Num Peaks: {len(s.ions)}"]
        lines += [f"{mz} {abundance}" for mz, abundance in sorted(s.ions)]
        records.append("\n".join(lines))
    return ("\n\n".join(records) + "\n").encode()


def seed_demo_libraries(actor: User) -> bool:
    """Import the two demo libraries and the legal status of their substances, once."""
    if db.session.scalar(select(ReferenceLibrary.id).where(
            ReferenceLibrary.name.like(f"{LIBRARY_NAME}%"))):
        return False
    description = ("Synthetic spectra made by the LIMS for demonstration; not for casework. "
                   + DEMO_NOTE)
    import_library(actor, ms_library_file(), "customs-demo-ei.msp",
                   name=f"{LIBRARY_NAME} EI-MS", version=LIBRARY_VERSION,
                   description=description)
    import_library(actor, ir_library_file(), "customs-demo-ir.jdx",
                   name=f"{LIBRARY_NAME} IR", version=LIBRARY_VERSION, description=description)
    for demo in SUBSTANCES:
        substance = db.session.scalar(select(Substance).where(Substance.cas == demo.cas))
        for (regime, start, act), schedule in demo.status:
            add_legal_status(actor, substance, {
                "regime": regime, "schedule": schedule, "effective_from": start,
                "reference": f"{act} {DEMO_NOTE}"})
    return True
