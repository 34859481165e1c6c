"""Parsing and formatting of weights: stored as integer milligrams, never as floats."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal

MAX_MG = 2**63 - 1  # weights are stored as 64-bit integers of milligrams
_FACTORS = {"mg": Decimal(1), "g": Decimal(1000), "kg": Decimal(1_000_000)}
_WEIGHT = re.compile(r"\s*([0-9]+(?:[.,][0-9]+)?|[.,][0-9]+)\s*(mg|g|kg)?\s*", re.IGNORECASE)


def parse_weight_mg(text: str | None, default_unit: str = "g", label: str = "The weight"
                    ) -> int | None:
    """Parse '12.5', '12,5 g', '1.2 kg' or '350 mg' into whole milligrams; blank gives None."""
    value = (text or "").strip()
    if not value:
        return None
    if value.startswith("-"):
        raise ValueError(f"{label} cannot be negative.")
    match = _WEIGHT.fullmatch(value)
    if not match:
        raise ValueError(f"{label} should be a number such as 12.5 or 12,5, optionally "
                         f"followed by g, kg or mg, not “{value}”.")
    number = Decimal(match[1].replace(",", "."))
    milligrams = int((number * _FACTORS[(match[2] or default_unit).lower()])
                     .to_integral_value(ROUND_HALF_UP))
    if milligrams > MAX_MG:
        raise ValueError(f"{label} is too large.")
    return milligrams


def format_weight(mg: int | None) -> str:
    """Human-readable weight with its unit: '1.250 kg', '12.500 g', '350 mg'."""
    if mg is None:
        return "—"
    if mg >= 1_000_000:
        return f"{Decimal(mg) / 1_000_000:.3f} kg"
    if mg >= 1000:
        return f"{Decimal(mg) / 1000:.3f} g"
    return f"{mg} mg"


def grams_text(mg: int | None) -> str:
    """A weight in grams for form fields, without trailing zeros."""
    if mg is None:
        return ""
    text = f"{Decimal(mg) / 1000:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text
