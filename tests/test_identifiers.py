import re
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lims.identifiers import (
    IdentifierError,
    awb_check_digit,
    cas_check_digit,
    container_check_digit,
    ec_check_digit,
    egn_check_digit,
    eik_check_digit,
    gtin13_check_digit,
    imo_check_digit,
    mrn_check_digit,
    normalize_awb,
    normalize_cas,
    normalize_container_number,
    normalize_ec_number,
    normalize_egn,
    normalize_eik,
    normalize_eori,
    normalize_gtin13,
    normalize_hs_code,
    normalize_imo,
    normalize_mrn,
    normalize_s10,
    normalize_seal,
    s10_check_digit,
)

# The letter table exactly as DOMAIN.md 5.1 prints it (A=10 ... Z=38), as an independent oracle.
LETTER_VALUES = dict(
    zip(
        string.ascii_uppercase,
        (10, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 34, 35)
        + (36, 37, 38),
        strict=True,
    )
)


def iso6346_sum(body: str) -> int:
    return sum((int(c) if c.isdigit() else LETTER_VALUES[c]) * 2**i for i, c in enumerate(body))


def iso6346_oracle(body: str) -> str:
    return str(iso6346_sum(body) % 11 % 10)


# --- ISO 6346 container numbers -------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "check"),
    [
        ("CSQU305438", "3"),
        ("MSCU123456", "6"),
        ("TGHU987654", "2"),
        ("HLXU123456", "1"),
        ("MAEU000001", "3"),
        ("APZU321321", "0"),
        ("CSQU000007", "0"),  # remainder 10 becomes 0
    ],
)
def test_container_vectors(body, check):
    assert container_check_digit(body) == check
    assert normalize_container_number(body + check) == body + check


def test_worked_example_sums():
    assert iso6346_sum("CSQU305438") == 6185
    assert iso6346_sum("CSQU000007") == 4025
    assert iso6346_sum("99IT9876AB8890120") == 154031


def test_container_normalizes_spaces_dashes_and_case():
    assert normalize_container_number(" csqu 305438-3 ") == "CSQU3054383"


def test_container_wrong_check_digit_names_expected():
    with pytest.raises(IdentifierError) as excinfo:
        normalize_container_number("CSQU3054384")
    assert str(excinfo.value) == "Check digit should be 3, not 4 (ISO 6346)."


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("CSQ3054383", "Expected 4 letters then 7 digits, e.g. CSQU3054383."),
        ("CSQU30543833", "Expected 4 letters then 7 digits, e.g. CSQU3054383."),
        ("", "Expected 4 letters then 7 digits, e.g. CSQU3054383."),
        ("CSQX3054383", "should be U, J or Z, not X"),
        ("CSQU305438", "check digit is missing; with it the number is CSQU3054383"),
    ],
)
def test_container_malformed(value, message):
    with pytest.raises(IdentifierError, match=re.escape(message)):
        normalize_container_number(value)


def test_identifier_error_is_value_error():
    assert issubclass(IdentifierError, ValueError)


@given(
    owner=st.text(alphabet=string.ascii_uppercase, min_size=3, max_size=3),
    category=st.sampled_from("UJZ"),
    serial=st.integers(0, 999_999),
)
def test_container_check_digit_property(owner, category, serial):
    body = f"{owner}{category}{serial:06d}"
    check = container_check_digit(body)
    assert check == iso6346_oracle(body)
    assert normalize_container_number(body + check) == body + check
    for wrong in string.digits.replace(check, ""):
        with pytest.raises(IdentifierError, match=f"should be {check}, not {wrong} "):
            normalize_container_number(body + wrong)


# --- MRN -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "check"),
    [
        ("99IT9876AB8890120", "9"),
        ("24BG1000A00000012", "4"),
        ("23DE123456789012A", "5"),
        ("24BG0000BG0000001", "0"),
        ("25BG005800EX00012", "5"),
    ],
)
def test_mrn_vectors(body, check):
    assert mrn_check_digit(body) == check
    assert normalize_mrn(body + check) == body + check


def test_mrn_hmrc_fixture_and_lower_case():
    assert normalize_mrn(" 99it9876ab88901209 ") == "99IT9876AB88901209"


def test_mrn_broker_example_fails_naming_expected_character():
    with pytest.raises(IdentifierError, match=r"^Check character should be 8, not 6 "):
        normalize_mrn("22GB02I89012847596")
    with pytest.raises(IdentifierError, match=r"^Check character should be 9, not X "):
        normalize_mrn("99IT9876AB8890120X")


@pytest.mark.parametrize(
    "value", ["99IT9876AB8890120", "9IIT9876AB88901209", "99IT9876AB889012099"]
)
def test_mrn_malformed(value):
    with pytest.raises(IdentifierError, match="Expected 18 characters"):
        normalize_mrn(value)


@given(body=st.from_regex(r"[0-9]{2}[A-Z]{2}[A-Z0-9]{13}", fullmatch=True))
def test_mrn_check_digit_property(body):
    check = mrn_check_digit(body)
    assert check == iso6346_oracle(body)
    assert normalize_mrn(body + check) == body + check
    wrong = str((int(check) + 1) % 10)
    with pytest.raises(IdentifierError, match=f"should be {check}, not {wrong} "):
        normalize_mrn(body + wrong)


# --- CAS RN, EC number ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cas",
    [
        "7732-18-5",
        "50-36-2",
        "537-46-2",
        "108-24-7",
        "299-42-3",
        "4468-48-8",
        "7722-64-7",
        "67-64-1",
    ],
)
def test_cas_vectors(cas):
    assert normalize_cas(cas) == cas
    assert normalize_cas(cas.replace("-", "")) == cas
    assert cas_check_digit(cas[:-2].replace("-", "")) == cas[-1]


def test_cas_strips_leading_zeros():
    assert normalize_cas("0000050-36-2") == "50-36-2"


def test_cas_wrong_check_digit():
    with pytest.raises(IdentifierError, match=r"^Check digit should be 5, not 4 \(CAS RN\)\.$"):
        normalize_cas("7732-18-4")


@pytest.mark.parametrize("value", ["", "12-3", "abc-de-f", "12345678901"])
def test_cas_malformed(value):
    with pytest.raises(IdentifierError, match="Expected a CAS number"):
        normalize_cas(value)


@pytest.mark.parametrize("ec", ["200-003-9", "200-001-8", "231-791-2", "203-564-8"])
def test_ec_vectors(ec):
    assert normalize_ec_number(ec) == ec
    assert normalize_ec_number(ec.replace("-", "")) == ec
    assert ec_check_digit(ec[:7].replace("-", "")) == ec[-1]


def test_ec_wrong_check_digit():
    with pytest.raises(IdentifierError, match="should be 9, not 8"):
        normalize_ec_number("200-003-8")


def test_ec_remainder_ten_only_for_elincs():
    assert normalize_ec_number("400-001-1") == "400-001-1"
    with pytest.raises(IdentifierError, match="No EC number starts with 200-005"):
        normalize_ec_number("200-005-0")


# --- Commodity codes --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2939 41 00", "29394100"),
        ("2939.41", "293941"),
        ("2939 41 00 00", "2939410000"),
        ("010121", "010121"),
        ("970500", "970500"),
    ],
)
def test_hs_codes(value, expected):
    assert normalize_hs_code(value) == expected


@pytest.mark.parametrize("value", ["2939", "2939410", "293941000", "29394100000", "2939-41-00"])
def test_hs_code_lengths(value):
    with pytest.raises(IdentifierError, match=r"6 \(HS\), 8 \(CN\) or 10 \(TARIC\) digits"):
        normalize_hs_code(value)


@pytest.mark.parametrize("value", ["000000", "770000", "980000", "99300000"])
def test_hs_code_chapters(value):
    with pytest.raises(IdentifierError, match=f"Chapter {value[:2]} does not exist"):
        normalize_hs_code(value)


# --- Bulgarian ЕИК/БУЛСТАТ, ЕГН and EORI ------------------------------------------------------


@pytest.mark.parametrize("eik", ["020469788", "1213961230342", "831641791"])
def test_eik_vectors(eik):
    assert normalize_eik(eik) == eik
    assert eik_check_digit(eik[:8]) == eik[8]


def test_eik_thirteen_digit_check():
    assert eik_check_digit("121396123034") == "2"
    with pytest.raises(IdentifierError, match="Last digit should be 2, not 3"):
        normalize_eik("1213961230343")


def test_eik_invalid_vector():
    with pytest.raises(IdentifierError, match="Ninth digit should be 6, not 9"):
        normalize_eik("123456789")


@pytest.mark.parametrize("value", ["12345678", "1234567890", "02046978A"])
def test_eik_malformed(value):
    with pytest.raises(IdentifierError, match="Expected 9 or 13 digits"):
        normalize_eik(value)


def test_egn_vector():
    assert normalize_egn("7523169263") == "7523169263"
    assert egn_check_digit("752316926") == "3"
    with pytest.raises(IdentifierError, match="should be 3, not 4"):
        normalize_egn("7523169264")


def test_egn_century_in_month():
    born_2000 = "004101123"
    assert normalize_egn(born_2000 + egn_check_digit(born_2000)) == "0041011230"


@pytest.mark.parametrize("prefix", ["751316", "756116", "750016", "750230"])
def test_egn_birth_date(prefix):
    digits = prefix + "926"
    with pytest.raises(IdentifierError, match="is not one"):
        normalize_egn(digits + egn_check_digit(digits))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("BG831641791", "BG831641791"),
        ("bg 020469788", "BG020469788"),
        ("BG1213961230342", "BG1213961230342"),
        ("BG7523169263", "BG7523169263"),
        ("DE123456789012345", "DE123456789012345"),
        ("GB123456789000", "GB123456789000"),
    ],
)
def test_eori_valid(value, expected):
    assert normalize_eori(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("BG123456789", "Ninth digit should be 6, not 9"),
        ("BG12345", "A Bulgarian EORI is BG followed by"),
        ("DE1234567890123456", "Expected a 2-letter country code"),
        ("1234", "Expected a 2-letter country code"),
        ("DE", "Expected a 2-letter country code"),
    ],
)
def test_eori_invalid(value, message):
    with pytest.raises(IdentifierError, match=message):
        normalize_eori(value)


# --- Ships, air waybills, postal items, barcodes ----------------------------------------------


@pytest.mark.parametrize("value", ["9074729", "IMO9074729", "imo 907 4729"])
def test_imo_valid(value):
    assert normalize_imo(value) == "IMO9074729"
    assert imo_check_digit("907472") == "9"


def test_imo_invalid_vector():
    with pytest.raises(IdentifierError, match=r"^Check digit should be 9, not 8 \(IMO number\)\.$"):
        normalize_imo("9074728")


def test_imo_malformed():
    with pytest.raises(IdentifierError, match="IMO followed by 7 digits"):
        normalize_imo("IMO907472")


@pytest.mark.parametrize("value", ["020-12345675", "02012345675", "020 1234 5675"])
def test_awb_valid(value):
    assert normalize_awb(value) == "020-12345675"
    assert awb_check_digit("1234567") == "5"


def test_awb_invalid_vector():
    with pytest.raises(IdentifierError, match="should be 5, not 0"):
        normalize_awb("020-12345670")


def test_awb_malformed():
    with pytest.raises(IdentifierError, match="3-digit airline prefix"):
        normalize_awb("12345675")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("AA473124829GB", "AA473124829GB"),
        ("aa 4731 2482 9 gb", "AA473124829GB"),
        ("AA473124850GB", "AA473124850GB"),  # 11 - remainder is 10, written 0
        ("AA473124885GB", "AA473124885GB"),  # 11 - remainder is 11, written 5
    ],
)
def test_s10_valid(value, expected):
    assert normalize_s10(value) == expected


def test_s10_check_digit_vector():
    assert s10_check_digit("47312482") == "9"
    with pytest.raises(IdentifierError, match="should be 9, not 8"):
        normalize_s10("AA473124828GB")


def test_s10_malformed():
    with pytest.raises(IdentifierError, match="2 letters, 9 digits"):
        normalize_s10("AA47312482GB")


def test_gtin13_vector():
    assert normalize_gtin13("4006381333931") == "4006381333931"
    assert gtin13_check_digit("400638133393") == "1"
    with pytest.raises(IdentifierError, match="should be 1, not 2"):
        normalize_gtin13("4006381333932")


@pytest.mark.parametrize(
    ("normalize", "check_digit", "body"),
    [
        (normalize_cas, cas_check_digit, st.from_regex(r"[1-9][0-9]{3,8}", fullmatch=True)),
        (normalize_imo, imo_check_digit, st.from_regex(r"[0-9]{6}", fullmatch=True)),
        (normalize_gtin13, gtin13_check_digit, st.from_regex(r"[0-9]{12}", fullmatch=True)),
        (normalize_egn, egn_check_digit, st.just("752316926")),
        (normalize_eik, eik_check_digit, st.from_regex(r"[0-9]{8}", fullmatch=True)),
    ],
)
@given(data=st.data())
def test_digit_check_property(normalize, check_digit, body, data):
    digits = data.draw(body)
    check = check_digit(digits)
    normalize(digits + check)
    wrong = str((int(check) + 1) % 10)
    with pytest.raises(IdentifierError, match=f"should be {check}, not {wrong} "):
        normalize(digits + wrong)


# --- Seals ------------------------------------------------------------------------------------


def test_seal_upper_case_without_spaces_keeps_zeros():
    assert normalize_seal(" bg 007\t123 ") == "BG007123"
    assert normalize_seal("ml-00/42") == "ML-00/42"


@pytest.mark.parametrize(("value", "message"), [("", "Enter the seal"), ("АБ123", "'А'")])
def test_seal_refused(value, message):
    with pytest.raises(IdentifierError, match=message):
        normalize_seal(value)
