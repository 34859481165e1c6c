"""The alcoholometric formula reproduces the published table values it implements."""

import pytest

from lims.analyses import alcohol

# Density at 20 °C (kg/m³) against strength by volume at 20 °C (% vol): rows of the
# international table as reprinted in a public dilution table (plantagea.hr
# "Dilution-of-ethanol.pdf"); 998.20 and 789.24 are the R 22 end points.
TABLE_20C = [(0, 998.20), (10, 984.71), (20, 973.56), (30, 962.21), (40, 948.05),
             (50, 930.14), (60, 909.11), (70, 885.56), (80, 859.27), (90, 829.18),
             (91, 825.83), (95, 811.38), (96, 807.42), (99, 794.25), (100, 789.24)]
# Density of water (kg/m³) at t °C, OIML R 22 Table I, 0 % column (as quoted in public notes).
WATER = [(10, 999.70), (15, 999.10), (20, 998.20), (25, 997.04), (30, 995.65)]


@pytest.mark.parametrize(("strength", "rho"), TABLE_20C)
def test_density_at_20c_matches_the_table(strength, rho):
    assert round(alcohol.density_from_strength(strength), 2) == rho


@pytest.mark.parametrize(("strength", "rho"), TABLE_20C)
def test_strength_from_a_table_density_reads_the_table_row(strength, rho):
    # The table prints density to 0.01 kg/m³, about 0.003 % vol around 40 % vol.
    assert alcohol.strength_from_density(rho) == pytest.approx(strength, abs=0.005)


@pytest.mark.parametrize(("temperature", "rho"), WATER)
def test_water_density_with_temperature(temperature, rho):
    assert round(alcohol.density(0.0, temperature), 2) == rho


def test_pure_ethanol_at_20c_and_40c():
    # 789.24 is the R 22 erratum value; 771.93 at 40 °C is the table's lowest density, the
    # corner where every cross term C(i,k) counts (p = 1, t - 20 = 20).
    assert round(alcohol.ETHANOL_DENSITY_20, 2) == 789.24
    assert round(alcohol.density(1.0, 40.0), 2) == 771.93


def test_strength_from_density_measured_at_another_temperature():
    # A 40 % vol spirit measured at 15 °C is denser than at 20 °C, yet reads 40 % vol at 20 °C.
    rho_15 = alcohol.density_from_strength(40.0, 15.0)
    assert rho_15 > alcohol.density_from_strength(40.0) + 1.0
    assert alcohol.strength_from_density(rho_15, 15.0) == pytest.approx(40.0, abs=1e-9)
    assert alcohol.strength_from_density(rho_15) < 38.0


@pytest.mark.parametrize(("call", "words"), [
    (lambda: alcohol.strength_from_density(1000.5), "density at 20 °C 1000.5 kg/m³ is outside"),
    (lambda: alcohol.strength_from_density(780.0), "range 789.24 to 998.2 kg/m³"),
    (lambda: alcohol.strength_from_density(950.0, 41.0), "temperature 41 °C"),
    (lambda: alcohol.strength_from_density(950.0, -20.5), "range -20 to 40 °C"),
    (lambda: alcohol.density_from_strength(100.1), "strength 100.1 % vol"),
    (lambda: alcohol.density(-0.1), "mass_fraction -0.1"),
])
def test_bad_input_names_the_parameter_and_the_range(call, words):
    with pytest.raises(ValueError, match="outside") as error:
        call()
    assert words in str(error.value)


def test_the_table_edges_are_inside_the_domain():
    assert alcohol.strength_from_density(998.20) == pytest.approx(0.0, abs=0.01)
    assert alcohol.strength_from_density(789.24) == pytest.approx(100.0, abs=0.01)
