"""Normalise and validate the identifiers a customs laboratory records (DOMAIN.md section 5)."""

import re
import string
from datetime import date


class IdentifierError(ValueError):
    """An identifier is malformed; the message is a sentence to show to the user."""


# A=10 ... Z=38, skipping the multiples of 11.
_ISO6346_LETTER_VALUES = dict(
    zip(string.ascii_uppercase, (v for v in range(10, 39) if v % 11), strict=True)
)


def _compact(value: str, strip: str = "") -> str:
    """Upper-case `value` and remove all whitespace and the characters in `strip`."""
    text = "".join(value.split()).upper()
    return text.translate(str.maketrans("", "", strip))


def _require(pattern: str, text: str, message: str) -> None:
    """Raise IdentifierError with `message` unless `text` matches the ASCII `pattern`."""
    if not re.fullmatch(pattern, text, flags=re.ASCII):
        raise IdentifierError(message)


def _verify(found: str, expected: str, what: str, standard: str) -> None:
    """Raise IdentifierError naming the expected check character if `found` differs."""
    if found != expected:
        raise IdentifierError(f"{what} should be {expected}, not {found} ({standard}).")


def _digits(text: str) -> list[int]:
    """Return the decimal digits of `text` as integers."""
    return [int(char) for char in text]


def _weighted_sum(digits: str, weights: tuple[int, ...] | range) -> int:
    """Return the sum of the digits of `digits` multiplied by `weights` position by position."""
    return sum(digit * weight for digit, weight in zip(_digits(digits), weights, strict=True))


def _iso6346_check(body: str) -> str:
    """Return the ISO 6346 check character of `body` (letters and digits, upper case)."""
    total = 0
    for position, char in enumerate(body):
        value = int(char) if char.isdigit() else _ISO6346_LETTER_VALUES[char]
        total += value << position
    return str(total % 11 % 10)


def container_check_digit(body: str) -> str:
    """Return the ISO 6346 check digit of a 10-character owner code, category and serial."""
    _require(r"[A-Z]{4}[0-9]{6}", body, "Expected 4 letters then 6 digits, e.g. CSQU305438.")
    return _iso6346_check(body)


def normalize_container_number(value: str) -> str:
    """Return an ISO 6346 container number such as CSQU3054383 or raise IdentifierError."""
    text = _compact(value, "-./")
    if re.fullmatch(r"[A-Z]{3}[UJZ][0-9]{6}", text):
        raise IdentifierError(
            f"The check digit is missing; with it the number is "
            f"{text}{_iso6346_check(text)} (ISO 6346)."
        )
    _require(r"[A-Z]{4}[0-9]{7}", text, "Expected 4 letters then 7 digits, e.g. CSQU3054383.")
    if text[3] not in "UJZ":
        raise IdentifierError(
            f"The fourth letter is the equipment category and should be U, J or Z, "
            f"not {text[3]} (ISO 6346)."
        )
    _verify(text[10], _iso6346_check(text[:10]), "Check digit", "ISO 6346")
    return text


def mrn_check_digit(body: str) -> str:
    """Return the check character of the first 17 characters of an MRN (ISO 6346 method)."""
    _require(
        r"[0-9]{2}[A-Z]{2}[A-Z0-9]{13}",
        body,
        "Expected 2 digits, a 2-letter country code and 13 letters or digits.",
    )
    return _iso6346_check(body)


def normalize_mrn(value: str) -> str:
    """Return an 18-character Movement Reference Number or raise IdentifierError."""
    text = _compact(value, "-")
    _require(
        r"[0-9]{2}[A-Z]{2}[A-Z0-9]{14}",
        text,
        "Expected 18 characters: 2 digits for the year, a 2-letter country code, "
        "then 14 letters or digits, e.g. 99IT9876AB88901209.",
    )
    _verify(text[17], mrn_check_digit(text[:17]), "Check character", "MRN, ISO 6346 method")
    return text


def cas_check_digit(digits: str) -> str:
    """Return the CAS Registry Number check digit for the digits before it."""
    _require(r"[0-9]{4,9}", digits, "Expected 4 to 9 digits before the CAS check digit.")
    return str(_weighted_sum(digits[::-1], range(1, len(digits) + 1)) % 10)


def normalize_cas(value: str) -> str:
    """Return a CAS Registry Number as NNNNNNN-NN-R (e.g. 7732-18-5) or raise IdentifierError."""
    text = _compact(value, "-").lstrip("0")
    _require(
        r"[0-9]{5,10}",
        text,
        "Expected a CAS number of 5 to 10 digits written NNNNNNN-NN-R, e.g. 7732-18-5.",
    )
    _verify(text[-1], cas_check_digit(text[:-1]), "Check digit", "CAS RN")
    return f"{text[:-3]}-{text[-3:-1]}-{text[-1]}"


def normalize_hs_code(value: str) -> str:
    """Return an HS (6), CN (8) or TARIC (10) commodity code as bare digits or raise."""
    text = _compact(value, ".")
    _require(
        r"[0-9]{6}|[0-9]{8}|[0-9]{10}",
        text,
        "Expected 6 (HS), 8 (CN) or 10 (TARIC) digits, e.g. 2939 41 00.",
    )
    chapter = int(text[:2])
    if not 1 <= chapter <= 97 or chapter == 77:
        raise IdentifierError(
            f"Chapter {text[:2]} does not exist; chapters run from 01 to 97 and 77 is reserved."
        )
    return text


def eik_check_digit(digits: str) -> str:
    """Return the check digit of a BG ЕИК/БУЛСТАТ given its first 8 or first 12 digits."""
    _require(r"[0-9]{8}|[0-9]{12}", digits, "Expected the first 8 or 12 digits of an ЕИК/БУЛСТАТ.")
    if len(digits) == 8:
        first, second = range(1, 9), range(3, 11)
        tail = digits
    else:
        first, second = (2, 7, 3, 5), (4, 9, 5, 7)
        tail = digits[8:]
    remainder = _weighted_sum(tail, first) % 11
    if remainder == 10:
        remainder = _weighted_sum(tail, second) % 11
    return str(remainder % 10)


def normalize_eik(value: str) -> str:
    """Return a 9- or 13-digit Bulgarian ЕИК/БУЛСТАТ or raise IdentifierError."""
    text = _compact(value, "-")
    _require(r"[0-9]{9}|[0-9]{13}", text, "Expected 9 or 13 digits for an ЕИК/БУЛСТАТ.")
    _verify(text[8], eik_check_digit(text[:8]), "Ninth digit", "ЕИК/БУЛСТАТ")
    if len(text) == 13:
        _verify(text[12], eik_check_digit(text[:12]), "Last digit", "ЕИК/БУЛСТАТ")
    return text


def egn_check_digit(digits: str) -> str:
    """Return the check digit of a Bulgarian ЕГН given its first 9 digits."""
    _require(r"[0-9]{9}", digits, "Expected the first 9 digits of an ЕГН.")
    return str(_weighted_sum(digits, (2, 4, 8, 5, 10, 9, 7, 3, 6)) % 11 % 10)


def normalize_egn(value: str) -> str:
    """Return a 10-digit Bulgarian ЕГН (personal number) or raise IdentifierError."""
    text = _compact(value, "-")
    _require(r"[0-9]{10}", text, "Expected 10 digits for an ЕГН.")
    year, month, day = int(text[:2]), int(text[2:4]), int(text[4:6])
    # The month carries the century: +20 for births in the 1800s, +40 for the 2000s.
    century = {0: 1900, 1: 1800, 2: 2000}.get((month - 1) // 20)
    try:
        born = date(century + year, (month - 1) % 20 + 1, day) if century else None
    except ValueError:
        born = None
    if born is None:
        raise IdentifierError(
            f"The first 6 digits of an ЕГН are a birth date; {text[:6]} is not one."
        )
    _verify(text[9], egn_check_digit(text[:9]), "Check digit", "ЕГН")
    return text


def normalize_eori(value: str) -> str:
    """Return an EORI number (country code + up to 15 characters) or raise IdentifierError."""
    text = _compact(value, "-")
    _require(
        r"[A-Z]{2}[A-Z0-9]{1,15}",
        text,
        "Expected a 2-letter country code then up to 15 letters or digits, e.g. BG831641791.",
    )
    national = text[2:]
    if text.startswith("BG"):
        if re.fullmatch(r"[0-9]{9}|[0-9]{13}", national):
            normalize_eik(national)
        elif re.fullmatch(r"[0-9]{10}", national):
            normalize_egn(national)
        else:
            raise IdentifierError(
                "A Bulgarian EORI is BG followed by a 9- or 13-digit ЕИК/БУЛСТАТ or a 10-digit ЕГН."
            )
    return text


def imo_check_digit(digits: str) -> str:
    """Return the check digit of an IMO ship number given its first 6 digits."""
    _require(r"[0-9]{6}", digits, "Expected the first 6 digits of an IMO number.")
    return str(_weighted_sum(digits, (7, 6, 5, 4, 3, 2)) % 10)


def normalize_imo(value: str) -> str:
    """Return an IMO ship number as IMO + 7 digits (e.g. IMO9074729) or raise IdentifierError."""
    text = _compact(value, "-").removeprefix("IMO")
    _require(r"[0-9]{7}", text, "Expected IMO followed by 7 digits, e.g. IMO9074729.")
    _verify(text[6], imo_check_digit(text[:6]), "Check digit", "IMO number")
    return f"IMO{text}"


def ec_check_digit(digits: str) -> str:
    """Return the EC (EINECS/ELINCS/NLP) number check digit given its first 6 digits."""
    _require(r"[0-9]{6}", digits, "Expected the first 6 digits of an EC number.")
    remainder = _weighted_sum(digits, range(1, 7)) % 11
    if remainder < 10:
        return str(remainder)
    # 181 ELINCS numbers (4xx-xxx) were issued with 1 where the remainder is 10.
    if digits[0] == "4":
        return "1"
    raise IdentifierError(
        f"No EC number starts with {digits[:3]}-{digits[3:]}: its check remainder is 10."
    )


def normalize_ec_number(value: str) -> str:
    """Return an EC number as NNN-NNN-R (e.g. 200-003-9) or raise IdentifierError."""
    text = _compact(value, "-")
    _require(r"[0-9]{7}", text, "Expected an EC number of 7 digits, e.g. 200-003-9.")
    _verify(text[6], ec_check_digit(text[:6]), "Check digit", "EC number")
    return f"{text[:3]}-{text[3:6]}-{text[6]}"


def gtin13_check_digit(digits: str) -> str:
    """Return the GTIN-13 (EAN-13) check digit given the first 12 digits."""
    _require(r"[0-9]{12}", digits, "Expected the first 12 digits of a GTIN-13.")
    return str(-_weighted_sum(digits, (1, 3) * 6) % 10)


def normalize_gtin13(value: str) -> str:
    """Return a 13-digit GTIN (EAN-13 barcode number) or raise IdentifierError."""
    text = _compact(value, "-")
    _require(r"[0-9]{13}", text, "Expected 13 digits, e.g. 4006381333931.")
    _verify(text[12], gtin13_check_digit(text[:12]), "Check digit", "GTIN-13")
    return text


def awb_check_digit(serial: str) -> str:
    """Return the air waybill check digit given the first 7 digits of the serial."""
    _require(r"[0-9]{7}", serial, "Expected the first 7 digits of an air waybill serial.")
    return str(int(serial) % 7)


def normalize_awb(value: str) -> str:
    """Return an air waybill number as PPP-SSSSSSSS (e.g. 020-12345675) or raise."""
    text = _compact(value, "-")
    _require(
        r"[0-9]{11}",
        text,
        "Expected a 3-digit airline prefix then an 8-digit serial, e.g. 020-12345675.",
    )
    _verify(text[10], awb_check_digit(text[3:10]), "Check digit", "air waybill, mod 7")
    return f"{text[:3]}-{text[3:]}"


def s10_check_digit(serial: str) -> str:
    """Return the UPU S10 check digit given the 8-digit serial number."""
    _require(r"[0-9]{8}", serial, "Expected the 8-digit serial of a UPU S10 item number.")
    check = 11 - _weighted_sum(serial, (8, 6, 4, 2, 3, 5, 9, 7)) % 11
    return str({10: 0, 11: 5}.get(check, check))


def normalize_s10(value: str) -> str:
    """Return a UPU S10 postal item number such as AA473124829GB or raise IdentifierError."""
    text = _compact(value, "-")
    _require(
        r"[A-Z]{2}[0-9]{9}[A-Z]{2}",
        text,
        "Expected 2 letters, 9 digits and a 2-letter country code, e.g. AA473124829GB.",
    )
    _verify(text[10], s10_check_digit(text[2:10]), "Check digit", "UPU S10")
    return text


def normalize_seal(value: str) -> str:
    """Return a seal number in upper case without spaces (ISO 17712 has no check digit)."""
    text = _compact(value)
    if not text:
        raise IdentifierError("Enter the seal number.")
    stray = re.search(r"[^A-Z0-9./-]", text, flags=re.ASCII)
    if stray:
        raise IdentifierError(
            f"Seal numbers use Latin letters, digits, '-', '/' and '.'; "
            f"'{stray.group()}' is not allowed."
        )
    return text
