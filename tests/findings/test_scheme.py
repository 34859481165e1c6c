import pytest

from lims.findings.scheme import TECHNIQUES, SchemeResult, evaluate


def result(code, aliquot="A1", run=None, positive=True, reviewable=True):
    return SchemeResult(code, positive, aliquot, run or f"run-{code}-{aliquot}", reviewable)


def codes(gate):
    return [t.code for t in gate.counted]


def test_catalogue_covers_the_brief_and_swgdrug_categories():
    for code in ("IR", "RAMAN", "RAMAN-HH", "GC-MS", "GC-RT", "LC-MS", "NMR", "XRD", "GC-FID",
                 "HPLC-DAD", "TLC", "IMS", "COLOUR", "UV-VIS", "MP", "CANNABIS-MACRO",
                 "CANNABIS-MICRO", "XRF"):
        assert code in TECHNIQUES
    assert {t.category for t in TECHNIQUES.values()} == {"A", "B", "C", None}
    assert TECHNIQUES["XRF"].category is None


def test_r1_category_a_plus_different_principle():
    gate = evaluate([result("IR", "A1"), result("GC-RT", "A2")])
    assert gate.ok and gate.rule == "R1"
    assert gate.missing == []
    assert codes(gate) == ["IR", "GC-RT"]


def test_r1_category_a_plus_category_c():
    gate = evaluate([result("COLOUR", "A2", reviewable=False), result("IR", "A1")])
    assert gate.ok and gate.rule == "R1"
    assert codes(gate) == ["IR", "COLOUR"]  # ordered by category for the certificate


def test_r1_two_category_a_on_different_principles():
    assert evaluate([result("IR", "A1"), result("NMR", "A2")]).ok
    assert evaluate([result("LC-MS", "A1"), result("HPLC-DAD", "A2")]).ok


def test_category_a_alone_is_refused():
    gate = evaluate([result("IR")])
    assert not gate.ok and gate.rule is None
    assert gate.missing == ["Needs a second technique based on different properties (Category A,"
                            " B or C) besides ATR-FTIR."]


def test_ir_plus_ir_counts_once():
    gate = evaluate([result("IR", "A1"), result("IR", "A2")])
    assert not gate.ok
    assert gate.missing[0].endswith("besides ATR-FTIR.")
    assert codes(gate) == ["IR"]


def test_two_hits_on_the_same_run_count_once():
    # Two library hits on the same IR spectrum: one run, one principle.
    gate = evaluate([result("IR", "A1", run="M-7"), result("IR", "A1", run="M-7")])
    assert not gate.ok
    assert codes(gate) == ["IR"]


def test_ir_plus_raman_share_one_principle():
    gate = evaluate([result("IR", "A1"), result("RAMAN", "A2"), result("RAMAN-HH", "A3")])
    assert not gate.ok
    assert gate.missing == ["Needs a second technique based on different properties (Category A,"
                            " B or C) besides ATR-FTIR, Raman spectroscopy and Handheld Raman (one"
                            " principle: molecular vibrations)."]


def test_gc_ms_alone_without_retention_time_is_one_technique():
    gate = evaluate([result("GC-MS", "A1", run="GC-12")])
    assert not gate.ok
    assert gate.missing == ["Needs a second technique based on different properties (Category A,"
                            " B or C) besides GC-MS mass spectrum. A GC-MS run counts as two"
                            " techniques only if its retention time is also recorded against a"
                            " reference standard (GC retention time)."]


def test_gc_ms_with_retention_time_counts_twice_but_needs_an_aliquot_reason():
    run = [result("GC-MS", "A1", run="GC-12"), result("GC-RT", "A1", run="GC-12")]
    gate = evaluate(run)
    assert not gate.ok
    assert gate.missing == ["GC-MS mass spectrum and GC retention time were measured on the same"
                            " aliquot (A1): test a separate aliquot or record why the same one"
                            " was used (e.g. limited sample)."]
    gate = evaluate(run, same_aliquot_reason="Only 3 mg of residue")
    assert gate.ok and gate.rule == "R1"
    assert codes(gate) == ["GC-MS", "GC-RT"]
    assert gate.notes == ["GC-MS mass spectrum and GC retention time were measured on the same"
                          " aliquot (A1); reason recorded: Only 3 mg of residue"]


def test_separate_aliquot_anywhere_satisfies_r6():
    gate = evaluate([result("GC-MS", "A1", run="GC-12"), result("GC-RT", "A1", run="GC-12"),
                     result("IR", "A2")])
    assert gate.ok and gate.notes == []


def test_blank_reason_does_not_waive_r6():
    gate = evaluate([result("IR", "A1"), result("GC-RT", "A1")], same_aliquot_reason="  ")
    assert not gate.ok


def test_negative_results_never_count():
    gate = evaluate([result("IR", "A1"), result("GC-RT", "A2", positive=False, run="GC-3")])
    assert not gate.ok
    assert codes(gate) == ["IR"]
    assert gate.notes == ["GC retention time (run GC-3) was not positive and is not counted."]
    gate = evaluate([result("IR", positive=False)])
    assert not gate.ok
    assert gate.missing[0].startswith("No positive result can be counted")


def test_r2_b_b_c_uncorrelated():
    gate = evaluate([result("GC-RT", "A1"), result("TLC", "A2"),
                     result("COLOUR", "A2", reviewable=False)])
    assert gate.ok and gate.rule == "R2"
    assert codes(gate) == ["GC-RT", "TLC", "COLOUR"]


def test_r2_b_plus_c_refused():
    gate = evaluate([result("GC-RT", "A1"), result("COLOUR", "A2")])
    assert not gate.ok
    assert gate.missing == ["Without a Category A technique, three techniques with two"
                            " uncorrelated Category B ones are needed: have 1 uncorrelated"
                            " Category B (GC retention time) and 2 techniques in all, with Colour"
                            " test."]


def test_r2_single_b_refused():
    gate = evaluate([result("TLC")])
    assert not gate.ok
    assert "have 1 uncorrelated Category B (Thin-layer chromatography)" in gate.missing[0]


def test_r2_correlated_b_pair_refused():
    gate = evaluate([result("GC-RT", "A1"), result("GC-FID", "A2"), result("COLOUR", "A2")])
    assert not gate.ok
    assert gate.missing == ["Without a Category A technique, three techniques with two"
                            " uncorrelated Category B ones are needed: have 1 uncorrelated"
                            " Category B (GC retention time and GC-FID retention time, correlated)"
                            " and 2 techniques in all, with Colour test."]


def test_r2_two_uncorrelated_b_without_a_third_refused():
    gate = evaluate([result("GC-RT", "A1"), result("HPLC-DAD", "A2")])
    assert not gate.ok
    assert "have 2 uncorrelated Category B" in gate.missing[0]
    assert "and 2 techniques in all" in gate.missing[0]


def test_r2_needs_two_samplings():
    results = [result("GC-RT", "A1"), result("TLC", "A1"), result("COLOUR", "A1")]
    gate = evaluate(results)
    assert not gate.ok
    assert gate.missing[0].startswith("All counted results come from one aliquot (A1)")
    assert evaluate(results, same_aliquot_reason="Single tablet").ok


def test_r13_cannabis_macro_micro_plus_one_test():
    results = [result("CANNABIS-MACRO", "A1"), result("CANNABIS-MICRO", "A1"),
               result("COLOUR", "A2")]
    gate = evaluate(results, cannabis=True)
    assert gate.ok and gate.rule == "R13"
    assert not evaluate(results[:2], cannabis=True).ok
    # Without cannabis the examinations are not counted at all.
    gate = evaluate(results)
    assert not gate.ok
    assert "Microscopic examination (cannabis) (run run-CANNABIS-MICRO-A1) counts only for" \
           " cannabis and is not counted." in gate.notes


def test_cannabis_with_two_plain_b_is_plain_r2():
    gate = evaluate([result("CANNABIS-MACRO", "A1"), result("TLC", "A1"), result("GC-RT", "A2")],
                    cannabis=True)
    assert gate.ok and gate.rule == "R2"


def test_unreviewable_category_a_or_b_is_not_counted():
    gate = evaluate([result("IR", "A1", run="M-1", reviewable=False), result("GC-RT", "A2")])
    assert not gate.ok
    assert codes(gate) == ["GC-RT"]
    assert gate.missing[-1] == ("ATR-FTIR (run M-1) has no reviewable data attached (raw data,"
                                " processed spectrum or chromatogram, hit list, overlay with the"
                                " reference), so it is not counted.")
    # An unneeded unreviewable result does not block, but is noted.
    gate = evaluate([result("IR", "A1"), result("GC-RT", "A2"),
                     result("NMR", "A3", run="N-1", reviewable=False)])
    assert gate.ok
    assert gate.notes[0].startswith("NMR spectroscopy (run N-1) has no reviewable data")


def test_xrf_is_outside_swgdrug():
    gate = evaluate([result("IR", "A1"), result("XRF", "A2", run="X-1")])
    assert not gate.ok
    assert gate.notes == ["X-ray fluorescence (elemental) (run X-1) is outside the SWGDRUG"
                          " categories and is not counted."]


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"technique": "FTIR"}, "technique"),
    ({"aliquot": " "}, "aliquot"),
    ({"run": ""}, "run"),
    ({"positive": "yes"}, "positive"),
])
def test_bad_result_names_the_field(kwargs, field):
    values = {"technique": "IR", "positive": True, "aliquot": "A1", "run": "M-1"} | kwargs
    with pytest.raises(ValueError, match=f"^{field}:"):
        SchemeResult(**values)
