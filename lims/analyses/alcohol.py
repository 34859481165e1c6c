"""Alcoholic strength by volume at 20 °C from density: the international alcoholometric tables.

The density of water–ethanol mixtures is the general formula of OIML R 22 (1975), adopted by
Council Directive 76/766/EEC (Annex, points 4 and 5) and used by the EU reference methods
(Commission Regulation (EC) No 2870/2000, Annex I, for spirit drinks; Regulation (EEC)
No 2676/90 for wine):

    rho(p, t) = A1 + sum(k=2..12) Ak p^(k-1) + sum(k=1..6) Bk (t-20)^k
                + sum(i=1..5) sum(k=1..m_i) Cik p^k (t-20)^i

with p the mass fraction of ethanol (0..1), t the temperature in °C (valid -20..40 °C) and
rho in kg/m³. The strength by volume at 20 °C is q = 100 p rho(p, 20) / rho(1, 20).
"""

from __future__ import annotations

from scipy.optimize import brentq

MIN_TEMPERATURE = -20.0
MAX_TEMPERATURE = 40.0
REFERENCE_TEMPERATURE = 20.0

# Directive 76/766/EEC, Annex point 5 (= OIML R 22, p. 13): A1..A12 in kg/m³.
A = (9.982012300e2, -1.929769495e2, 3.891238958e2, -1.668103923e3, 1.352215441e4,
     -8.829278388e4, 3.062874042e5, -6.138381234e5, 7.470172998e5, -5.478461354e5,
     2.234460334e5, -3.903285426e4)
# B1..B6 in kg/(m³·°C^k).
B = (-2.0618513e-1, -5.2682542e-3, 3.6130013e-5, -3.8957702e-7, 7.1693540e-9,
     -9.9739231e-11)
# C(i, k) for i = 1..5 (power of t-20), k = 1..m_i (power of p); m = 11, 10, 9, 4, 2.
C = (
    (1.693443461530087e-1, -1.046914743455169e1, 7.196353469546523e1, -7.047478054272792e2,
     3.924090430035045e3, -1.210164659068747e4, 2.248646550400788e4, -2.605562982188164e4,
     1.852373922069467e4, -7.420201433430137e3, 1.285617841998974e3),
    (-1.193013005057010e-2, 2.517399633803461e-1, -2.170575700536993, 1.353034988843029e1,
     -5.029988758547014e1, 1.096355666577570e2, -1.422753946421155e2, 1.080435942856230e2,
     -4.414153236817392e1, 7.442971530188783),
    (-6.802995733503803e-4, 1.876837790289664e-2, -2.002561813734156e-1, 1.022992966719220,
     -2.895696483903638, 4.810060584300675, -4.672147440794683, 2.458043105903461,
     -5.411227621436812e-1),
    (4.075376675622027e-6, -8.763058573471110e-6, 6.515031360099368e-6, -1.515784836987210e-6),
    (-2.788074354782409e-8, 1.345612883493354e-8),
)


def _check_range(name: str, value: float, low: float, high: float, unit: str) -> float:
    """Return value as a float, or raise ValueError naming the parameter and its range."""
    value = float(value)
    if not low <= value <= high:
        raise ValueError(f"{name} {value:g} {unit} is outside the alcoholometric tables' "
                         f"range {low:g} to {high:g} {unit}")
    return value


def _temperature(temperature: float) -> float:
    """The temperature checked against the formula's domain."""
    return _check_range("temperature", temperature, MIN_TEMPERATURE, MAX_TEMPERATURE, "°C")


def _density(p: float, t: float) -> float:
    """The general formula, unchecked."""
    dt = t - REFERENCE_TEMPERATURE
    rho = A[0] + sum(a * p ** k for k, a in enumerate(A[1:], start=1))
    rho += sum(b * dt ** k for k, b in enumerate(B, start=1))
    for i, row in enumerate(C, start=1):
        rho += sum(c * p ** k for k, c in enumerate(row, start=1)) * dt ** i
    return rho


def density(mass_fraction: float, temperature: float = REFERENCE_TEMPERATURE) -> float:
    """Density in kg/m³ of a water–ethanol mixture of this ethanol mass fraction at t °C."""
    p = _check_range("mass_fraction", mass_fraction, 0.0, 1.0, "")
    return _density(p, _temperature(temperature))


ETHANOL_DENSITY_20 = _density(1.0, REFERENCE_TEMPERATURE)


def strength_from_mass_fraction(mass_fraction: float) -> float:
    """Alcoholic strength by volume at 20 °C (% vol) of this ethanol mass fraction."""
    p = _check_range("mass_fraction", mass_fraction, 0.0, 1.0, "")
    return 100.0 * p * _density(p, REFERENCE_TEMPERATURE) / ETHANOL_DENSITY_20


def mass_fraction_from_strength(strength: float) -> float:
    """Ethanol mass fraction of a mixture of this strength by volume at 20 °C (% vol)."""
    q = _check_range("strength", strength, 0.0, 100.0, "% vol")
    if q in (0.0, 100.0):
        return q / 100.0
    return brentq(lambda p: strength_from_mass_fraction(p) - q, 0.0, 1.0, xtol=1e-14)


def density_from_strength(strength: float, temperature: float = REFERENCE_TEMPERATURE) -> float:
    """Density in kg/m³ at t °C of a mixture of this strength by volume at 20 °C (% vol)."""
    return _density(mass_fraction_from_strength(strength), _temperature(temperature))


def mass_fraction_from_density(measured: float, temperature: float = REFERENCE_TEMPERATURE
                               ) -> float:
    """Ethanol mass fraction of a mixture of this density (kg/m³) measured at t °C."""
    t = _temperature(temperature)
    low, high = _density(1.0, t), _density(0.0, t)
    rho = _check_range(f"density at {t:g} °C", measured, round(low, 2), round(high, 2), "kg/m³")
    rho = min(max(rho, low), high)
    return brentq(lambda p: _density(p, t) - rho, 0.0, 1.0, xtol=1e-14)


def strength_from_density(measured: float, temperature: float = REFERENCE_TEMPERATURE) -> float:
    """Alcoholic strength by volume at 20 °C (% vol) from a density (kg/m³) measured at t °C."""
    return strength_from_mass_fraction(mass_fraction_from_density(measured, temperature))
