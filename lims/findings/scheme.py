"""The SWGDRUG identification gate: which technique results together identify a substance.

Rules are MATCHING.md 1.6 (SWGDRUG IIIB.3): R1 Category A plus a technique based on different
properties; R2 without Category A three techniques, two of them uncorrelated Category B; R3 only
positive results count; R4 counted A/B results need reviewable data; R5 GC-MS counts twice only
with a recorded retention time; R6 separate aliquots, or a recorded reason; R13 cannabis
macroscopic and microscopic examination as two Category B techniques.

One relation, the technique's ``principle``, decides both "different chemical or physical
properties" (R1) and "uncorrelated" (R2): two techniques with the same principle count once, so
two results of one run on one principle (two library hits on one IR spectrum) count once, while
a GC-MS run gives two techniques exactly when both its spectrum (GC-MS) and its retention time
against a reference standard (GC-RT) are recorded as results (R5).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

VIBRATIONAL = "molecular vibrations"
MASS = "mass spectrometry"
GAS_CHROMATOGRAPHY = "gas chromatography"
LIQUID_CHROMATOGRAPHY = "liquid chromatography"


@dataclass(frozen=True)
class Technique:
    """An analytical technique, its SWGDRUG category (None: outside SWGDRUG) and principle."""

    code: str
    name: str
    category: str | None
    principle: str
    cannabis_only: bool = False


# IR and Raman share one principle: both measure the same molecular vibrations (with different
# selection rules), so IR + Raman does NOT count as two techniques exploiting different
# properties (R1) - the conservative reading of "different chemical or physical properties".
# Retention times from different GC columns or detectors (GC-MS run, GC-FID) are correlated, as
# MATCHING.md R2 says; so are LC retention times (HPLC-DAD, LC-MS run). TLC stays a principle of
# its own, as SWGDRUG lists it separately from LC. XRF (elemental composition, used for customs
# goods) is in no SWGDRUG category: it is recorded but never counted toward an identification.
TECHNIQUES = {t.code: t for t in (
    Technique("IR", "ATR-FTIR", "A", VIBRATIONAL),
    Technique("RAMAN", "Raman spectroscopy", "A", VIBRATIONAL),
    Technique("RAMAN-HH", "Handheld Raman", "A", VIBRATIONAL),
    Technique("GC-MS", "GC-MS mass spectrum", "A", MASS),
    Technique("LC-MS", "LC-MS mass spectrum", "A", MASS),
    Technique("NMR", "NMR spectroscopy", "A", "nuclear magnetic resonance"),
    Technique("XRD", "X-ray diffraction", "A", "crystal diffraction"),
    Technique("GC-RT", "GC retention time", "B", GAS_CHROMATOGRAPHY),
    Technique("GC-FID", "GC-FID retention time", "B", GAS_CHROMATOGRAPHY),
    Technique("LC-RT", "LC retention time", "B", LIQUID_CHROMATOGRAPHY),
    Technique("HPLC-DAD", "HPLC-DAD retention time", "B", LIQUID_CHROMATOGRAPHY),
    Technique("TLC", "Thin-layer chromatography", "B", "planar chromatography"),
    Technique("CE", "Capillary electrophoresis", "B", "electrophoretic mobility"),
    Technique("IMS", "Ion mobility spectrometry", "B", "gas-phase ion mobility"),
    Technique("MICROCRYSTAL", "Microcrystalline test", "B", "crystal formation"),
    Technique("PHARM-ID", "Pharmaceutical identifiers", "B", "pharmaceutical markings"),
    Technique("CANNABIS-MACRO", "Macroscopic examination (cannabis)", "B",
              "macroscopic morphology", cannabis_only=True),
    Technique("CANNABIS-MICRO", "Microscopic examination (cannabis)", "B",
              "microscopic morphology", cannabis_only=True),
    Technique("COLOUR", "Colour test", "C", "colour reaction"),
    Technique("UV-VIS", "UV-Vis spectroscopy", "C", "electronic absorption"),
    Technique("FLUORESCENCE", "Fluorescence spectroscopy", "C", "fluorescence"),
    Technique("IMMUNOASSAY", "Immunoassay", "C", "antibody binding"),
    Technique("MP", "Melting point", "C", "melting point"),
    Technique("XRF", "X-ray fluorescence (elemental)", None, "elemental composition"),
)}


@dataclass(frozen=True)
class SchemeResult:
    """One technique's result on one aliquot in one measurement run."""

    technique: str
    positive: bool
    aliquot: str
    run: str
    # R4: a Category A/B result counts only with raw data attached; unknown means not attached.
    reviewable: bool = False

    def __post_init__(self):
        if self.technique not in TECHNIQUES:
            raise ValueError(f"technique: unknown code {self.technique!r}; known codes are"
                             f" {', '.join(TECHNIQUES)}.")
        for name in ("positive", "reviewable"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name}: must be true or false.")
        for name in ("aliquot", "run"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"{name}: give the {name} identifier of the result.")


@dataclass(frozen=True)
class GateResult:
    """Whether the results identify the substance, by which rule ("R1", "R2", "R13"), or why not."""

    ok: bool
    rule: str | None
    missing: list[str] = field(default_factory=list)
    counted: list[Technique] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


Members = list[tuple[SchemeResult, Technique]]


def evaluate(results: Sequence[SchemeResult], *, cannabis: bool = False,
             same_aliquot_reason: str | None = None) -> GateResult:
    """Apply SWGDRUG IIIB.3 to the results; cannabis enables R13, a reason waives R6."""
    reason = (same_aliquot_reason or "").strip()
    notes: list[str] = []
    unreviewable: list[str] = []
    eligible: Members = []
    for result in results:
        technique = TECHNIQUES[result.technique]
        label = f"{technique.name} (run {result.run})"
        if not result.positive:
            notes.append(f"{label} was not positive and is not counted.")
        elif technique.category is None:
            notes.append(f"{label} is outside the SWGDRUG categories and is not counted.")
        elif technique.cannabis_only and not cannabis:
            notes.append(f"{label} counts only for cannabis and is not counted.")
        elif technique.category in ("A", "B") and not result.reviewable:
            unreviewable.append(f"{label} has no reviewable data attached (raw data, processed"
                                f" spectrum or chromatogram, hit list, overlay with the"
                                f" reference), so it is not counted.")
        else:
            eligible.append((result, technique))
    groups = _by_principle(eligible)
    if not groups:
        rule, missing = None, ["No positive result can be counted: needs a Category A technique"
                               " plus one based on different properties, or three techniques"
                               " with two uncorrelated Category B ones."]
    elif any(technique.category == "A" for _, technique in eligible):
        rule, missing = _rule_one(groups)
    else:
        rule, missing = _rule_two(groups)
    if rule is not None:
        aliquot_problem = _same_aliquot(rule, eligible)
        if aliquot_problem and reason:
            notes.append(f"{aliquot_problem}; reason recorded: {reason}")
        elif aliquot_problem:
            missing.append(f"{aliquot_problem}: test a separate aliquot or record why the same"
                           f" one was used (e.g. limited sample).")
    ok = rule is not None and not missing
    order = list(TECHNIQUES)
    counted = sorted({t.code: t for _, t in eligible}.values(),
                     key=lambda t: (t.category, order.index(t.code)))
    if ok:
        return GateResult(True, rule, [], counted, notes + unreviewable)
    return GateResult(False, None, missing + unreviewable, counted, notes)


def _by_principle(eligible: Members) -> dict[str, Members]:
    """Eligible results grouped by principle: same-principle results count as one technique."""
    groups: dict[str, Members] = {}
    for result, technique in eligible:
        groups.setdefault(technique.principle, []).append((result, technique))
    return groups


def _rule_one(groups: dict[str, Members]) -> tuple[str | None, list[str]]:
    """R1: a Category A principle plus any other principle."""
    if len(groups) >= 2:
        return "R1", []
    (principle, members), = groups.items()
    names = _names(members)
    shared = f" (one principle: {principle})" if len(names) > 1 else ""
    message = (f"Needs a second technique based on different properties (Category A, B or C)"
               f" besides {_join(names)}{shared}.")
    if any(t.code == "GC-MS" for _, t in members):
        message += (" A GC-MS run counts as two techniques only if its retention time is also"
                    " recorded against a reference standard (GC retention time).")
    return None, [message]


def _rule_two(groups: dict[str, Members]) -> tuple[str | None, list[str]]:
    """R2 (R13 when cannabis examinations are needed): three principles, two of them B."""
    b_groups = [members for members in groups.values() if members[0][1].category == "B"]
    if len(b_groups) >= 2 and len(groups) >= 3:
        plain = [members for members in b_groups if not members[0][1].cannabis_only]
        return ("R2" if len(plain) >= 2 else "R13"), []
    b_text = "; ".join(_group_text(members) for members in b_groups)
    have = f"have {len(b_groups)} uncorrelated Category B" + (f" ({b_text})" if b_text else "")
    if len(groups) < 3:
        others = [_group_text(members) for members in groups.values() if members not in b_groups]
        have += f" and {len(groups)} technique{'' if len(groups) == 1 else 's'} in all"
        have += f", with {'; '.join(others)}" if others else ""
    return None, [f"Without a Category A technique, three techniques with two uncorrelated"
                  f" Category B ones are needed: {have}."]


def _same_aliquot(rule: str, eligible: Members) -> str | None:
    """R6: the text of the same-aliquot problem, or None when separate aliquots were used."""
    if rule == "R1":
        # Any Category A result with any result of another principle, on two aliquots, will do.
        pairs = [(a, b) for a, ta in eligible if ta.category == "A"
                 for b, tb in eligible if tb.principle != ta.principle]
        if any(a.aliquot != b.aliquot for a, b in pairs):
            return None
        a, b = pairs[0]
        return (f"{TECHNIQUES[a.technique].name} and {TECHNIQUES[b.technique].name} were measured"
                f" on the same aliquot ({a.aliquot})")
    aliquots = {result.aliquot for result, _ in eligible}
    if len(aliquots) >= 2:
        return None
    return f"All counted results come from one aliquot ({aliquots.pop()})"


def _group_text(members: Members) -> str:
    """'GC retention time' or 'GC retention time and GC-FID retention time, correlated'."""
    names = _names(members)
    if len(names) > 1:
        return f"{_join(names)}, correlated"
    return names[0]


def _names(members: Members) -> list[str]:
    """Distinct technique names, in the order of the results."""
    return list(dict.fromkeys(t.name for _, t in members))


def _join(names: list[str]) -> str:
    """'A', 'A and B', 'A, B and C'."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
