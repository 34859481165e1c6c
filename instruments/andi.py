"""ANDI/AIA netCDF-3 files (ASTM E1947 chromatography, E2077 mass spectrometry).

A thin mapper on ``scipy.io.netcdf_file``. The template attribute decides what the file is,
never its name: ``aia_template_revision`` gives one chromatogram (time in minutes, detector
unit as Y unit) carrying the integration results as its peak list; ``ms_template_revision``
gives the total-ion chromatogram (when the scans have times) followed by one MS spectrum per
scan, cut from the flat mass/intensity arrays by ``scan_index`` and ``point_count``, with
``scale_factor``/``add_offset`` applied. ANDI's null value -9999 is read as "absent".
"""

from __future__ import annotations

import io
import re
from datetime import datetime

import numpy as np
from scipy.io import netcdf_file

from instruments.core import Budget, Detection, ParseError, Spectrum, normalise_y_unit

NAME = "andi"
LABEL = "ANDI/AIA netCDF"
EXTENSIONS = (".cdf", ".nc")
TECHNIQUES = ("chromatogram", "MS")

NULL = -9999.0
_MAGICS = (b"CDF\x01", b"CDF\x02")
_CHROMATOGRAPHY = "aia_template_revision"
_MASS_SPECTROMETRY = "ms_template_revision"
_SNIFF_BYTES = 65536
NOT_ANDI = ("This is a netCDF file but not ANDI/AIA: no aia_template_revision or "
            "ms_template_revision attribute")
_TIME_FACTORS = {"seconds": 1 / 60, "second": 1 / 60, "s": 1 / 60, "sec": 1 / 60,
                 "minutes": 1.0, "minute": 1.0, "min": 1.0, "milliseconds": 1 / 60000,
                 "ms": 1 / 60000}
_CHROM_ATTRIBUTES = {"sample_name": "sample_name", "operator_name": "operator",
                     "dataset_owner": "owner", "dataset_origin": "origin",
                     "administrative_comments": "comments", "sample_id": "sample_id",
                     "detector_name": "detector", "detection_method_name": "method",
                     "separation_experiment_type": "separation"}
_MS_ATTRIBUTES = {"dataset_origin": "origin", "dataset_owner": "owner",
                  "operator_name": "operator", "administrative_comments": "comments",
                  "test_ionization_mode": "ionization",
                  "test_ionization_polarity": "polarity", "experiment_type": "experiment_type",
                  "test_separation_type": "separation"}
_LIBRARY_VARIABLES = {"entry_name": "name", "CAS_number": "cas", "chemical_formula": "formula",
                      "molecular_weight": "molecular_weight", "retention_index":
                      "retention_index", "smiles": "smiles", "entry_id": "entry_id"}


def detect(data: bytes, filename: str = "") -> Detection | None:
    """ANDI by netCDF-3 magic plus its template attribute; a plain netCDF file scores low."""
    if data[:4] in _MAGICS:
        head = data[:_SNIFF_BYTES]
        if _CHROMATOGRAPHY.encode() in head:
            return Detection(1.0, "netCDF-3 with aia_template_revision (ANDI chromatography)")
        if _MASS_SPECTROMETRY.encode() in head:
            return Detection(1.0, "netCDF-3 with ms_template_revision (ANDI mass spectrometry)")
        return Detection(0.3, "a netCDF-3 file without the ANDI template attribute "
                              "(aia_template_revision or ms_template_revision): not ANDI")
    if data[:3] == b"CDF":
        return Detection(0.3, "a netCDF file of a version other than the classic netCDF-3 "
                              "formats ANDI uses")
    if (filename or "").lower().endswith(EXTENSIONS):
        return Detection(0.2, "the file extension is .cdf or .nc")
    return None


def parse(data: bytes, filename: str = "") -> list[Spectrum]:
    """The chromatogram or the MS scans of an ANDI file, chosen by its template attribute."""
    if data[:4] not in _MAGICS:
        raise ParseError("This is not a netCDF-3 (ANDI/AIA) file: it does not start with "
                         "CDF\\x01 or CDF\\x02.", offset=0)
    try:
        with netcdf_file(io.BytesIO(data), mode="r", mmap=False, maskandscale=False) as nc:
            attributes = {key: _text(value) if isinstance(value, bytes) else value
                          for key, value in nc._attributes.items()}
            variables = {key: (variable.data.copy(), dict(variable._attributes))
                         for key, variable in nc.variables.items()}
    except ParseError:
        raise
    except Exception as error:  # noqa: BLE001 - scipy raises many types on damaged files
        raise ParseError(f"The netCDF structure is damaged ({type(error).__name__}: "
                         f"{error}).") from error
    if _CHROMATOGRAPHY not in attributes and _MASS_SPECTROMETRY not in attributes:
        raise ParseError(NOT_ANDI)
    try:
        with np.errstate(all="ignore"):  # NaN, inf and overflow in the arrays are their data
            if _CHROMATOGRAPHY in attributes:
                return [_chromatogram(attributes, variables, filename)]
            return _mass_spectra(attributes, variables, filename, Budget(len(data)))
    except ParseError:
        raise
    except Exception as error:  # noqa: BLE001 - a damaged variable of an unexpected shape
        raise ParseError(f"The ANDI variables are inconsistent ({type(error).__name__}: "
                         f"{error}).") from error


def _text(value: object) -> str:
    """A netCDF char attribute or char array as text (NUL padding removed)."""
    if isinstance(value, np.ndarray):
        value = b"".join(value.ravel().astype("S1").tolist())
    if isinstance(value, bytes):
        value = value.split(b"\x00", 1)[0]
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError:
            value = value.decode("latin-1")
    return str(value).strip()


def _rows(variable: np.ndarray) -> list[str]:
    """A 2-D char variable (entries x string length) as one string per entry."""
    if variable.ndim == 1:
        return [_text(variable)]
    return [_text(row) for row in variable]


def _numbers(variables: dict, name: str) -> np.ndarray | None:
    """A numeric variable as float64 with -9999 as NaN, or None when absent or not numeric."""
    if name not in variables:
        return None
    values, _ = variables[name]
    if values.dtype.kind not in "iuf":
        return None
    values = np.asarray(values, dtype=np.float64).ravel()
    return np.where(values == NULL, np.nan, values)


def _scaled(variables: dict, name: str) -> np.ndarray:
    """A required data array with scale_factor and add_offset applied."""
    if name not in variables:
        raise ParseError(f"The ANDI file has no {name} variable.", block=name)
    values, attrs = variables[name]
    if values.dtype.kind not in "iuf":
        raise ParseError(f"The ANDI variable {name} is not numeric.", block=name)
    result = np.asarray(values, dtype=np.float64).ravel()
    scale = _scalar(attrs.get("scale_factor"), 1.0)
    offset = _scalar(attrs.get("add_offset"), 0.0)
    return result * scale + offset if (scale, offset) != (1.0, 0.0) else result


def _scalar(value: object, default: float) -> float:
    try:
        number = float(np.asarray(value, dtype=np.float64).ravel()[0])
    except (TypeError, ValueError, IndexError):
        return default
    return number if np.isfinite(number) else default


def _timestamp(text: str) -> str | None:
    """ANDI 'YYYYMMDDhhmmss+zzzz' as ISO 8601 (with its offset when present)."""
    match = re.match(r"^(\d{14})([+-]\d{4})?", text.strip())
    if not match:
        return None
    try:
        stamp = datetime.strptime(match.group(1) + (match.group(2) or ""),
                                  "%Y%m%d%H%M%S" + ("%z" if match.group(2) else ""))
    except ValueError:
        return None
    return stamp.isoformat()


def _time_factor(unit: str, warnings: list[str], what: str) -> float:
    """Minutes per stated time unit; seconds (the ANDI default) when none is stated."""
    key = unit.strip().lower() or "seconds"
    if key in _TIME_FACTORS:
        return _TIME_FACTORS[key]
    warnings.append(f"The {what} unit '{unit}' is not known; the times are read as seconds.")
    return _TIME_FACTORS["seconds"]


def _common_metadata(attributes: dict, names: dict[str, str]) -> dict[str, str]:
    metadata = {key: str(attributes[name]) for name, key in names.items()
                if str(attributes.get(name, "")).strip()}
    for stamp in ("injection_date_time_stamp", "experiment_date_time_stamp",
                  "dataset_date_time_stamp"):
        iso = _timestamp(str(attributes.get(stamp, "")))
        if iso:
            metadata["acquired_at"] = iso
            break
    return metadata


def _chromatogram(attributes: dict, variables: dict, filename: str) -> Spectrum:
    """The E1947 chromatogram with its time axis, detector unit and peak table."""
    warnings: list[str] = []
    y = _scaled(variables, "ordinate_values")
    unit = str(attributes.get("retention_unit") or attributes.get("retention_units") or "")
    factor = _time_factor(unit, warnings, "retention")
    times = _numbers(variables, "raw_data_retention")
    if times is not None and times.size == y.size and np.isfinite(times).all():
        x = times * factor
    else:
        interval = _numbers(variables, "actual_sampling_interval")
        delay = _numbers(variables, "actual_delay_time")
        if interval is None or interval.size != 1 or not np.isfinite(interval[0]):
            raise ParseError("The ANDI chromatogram has neither raw_data_retention times nor "
                             "an actual_sampling_interval.", block="actual_sampling_interval")
        start = delay[0] if delay is not None and delay.size == 1 and np.isfinite(delay[0]) \
            else 0.0
        x = (start + interval[0] * np.arange(y.size)) * factor
    detector_unit = str(attributes.get("detector_unit") or attributes.get("detector_units")
                        or "")
    metadata = _common_metadata(attributes, _CHROM_ATTRIBUTES)
    peaks = _peak_table(variables, factor, metadata, attributes)
    title = str(attributes.get("experiment_title") or metadata.get("sample_name")
                or filename or "ANDI chromatogram")
    return Spectrum(x=x, y=y, x_unit="min", y_unit=normalise_y_unit(detector_unit),
                    technique="chromatogram", title=title, metadata=metadata, peaks=peaks,
                    warnings=warnings, block="ordinate_values")


def _peak_table(variables: dict, factor: float, metadata: dict[str, str],
                attributes: dict) -> tuple[np.ndarray, np.ndarray] | None:
    """Retention times (min) and heights (else areas); the whole table as metadata text."""
    times = _numbers(variables, "peak_retention_time")
    if times is None or times.size == 0:
        return None
    times = times * factor
    columns = {"retention_time_min": times}
    for name in ("peak_area", "peak_height", "peak_amount", "peak_start_time",
                 "peak_end_time"):
        values = _numbers(variables, name)
        if values is not None and values.size == times.size:
            columns[name] = values * factor if name.endswith("_time") else values
    names = _rows(variables["peak_name"][0]) if "peak_name" in variables else []
    header = list(columns) + (["peak_name"] if len(names) == times.size else [])
    lines = ["\t".join(header)]
    for index in range(times.size):
        cells = [f"{columns[key][index]:.6g}" for key in columns]
        if len(names) == times.size:
            cells.append(names[index])
        lines.append("\t".join(cells))
    metadata["peak_table"] = "\n".join(lines)
    if attributes.get("peak_amount_units"):
        metadata["peak_amount_unit"] = str(attributes["peak_amount_units"])
    heights = columns.get("peak_height", columns.get("peak_area"))
    return times, heights if heights is not None else np.full(times.size, np.nan)


def _mass_spectra(attributes: dict, variables: dict, filename: str,
                  budget: Budget) -> list[Spectrum]:
    """The E2077 run: the TIC first (when scans are timed), then one spectrum per scan."""
    masses = _scaled(variables, "mass_values")
    intensities = _scaled(variables, "intensity_values")
    if masses.size != intensities.size:
        raise ParseError(f"The ANDI MS file has {masses.size} masses but {intensities.size} "
                         "intensities.", block="intensity_values")
    starts = _numbers(variables, "scan_index")
    if starts is None or starts.size == 0:
        raise ParseError("The ANDI MS file has no scans (no scan_index values).",
                         block="scan_index")
    counts = _numbers(variables, "point_count")
    if counts is None or counts.size != starts.size:
        counts = np.diff(np.append(starts, masses.size))
    # Scans may overlap in the mass array: count what they cut out, not what the file holds.
    budget.check_points(float(np.nansum(np.clip(counts, 0, masses.size))) + starts.size,
                        block="point_count")
    warnings: list[str] = []
    factor = _time_factor(_unit(variables, "scan_acquisition_time"), warnings, "scan time")
    times = _per_scan(variables, "scan_acquisition_time", starts.size)
    numbers = _per_scan(variables, "actual_scan_number", starts.size)
    metadata = _common_metadata(attributes, _MS_ATTRIBUTES)
    metadata.update(_instrument(variables))
    library = _library_entries(variables, starts.size)
    experiment = str(attributes.get("experiment_type", "")).lower()
    kind = "continuous" if "continuum" in experiment else "peaks"
    x_unit = _mass_unit(variables)
    y_unit = _intensity_unit(variables)
    run_title = str(attributes.get("experiment_title") or filename or "ANDI MS")
    spectra = []
    for scan in range(starts.size):
        start, count = starts[scan], counts[scan]
        where = f"scan {scan + 1}"
        if not (np.isfinite(start) and np.isfinite(count)) or start < 0 or count < 0 \
                or start + count > masses.size:
            raise ParseError(f"Scan {scan + 1} points outside the mass array (scan_index "
                             f"{start}, point_count {count}, {masses.size} values).",
                             block=where)
        first, last = int(start), int(start + count)
        scan_metadata = {**metadata, **library[scan]}
        if np.isfinite(times[scan]):
            scan_metadata["retention_time"] = f"{times[scan] * factor:.6g}"
        if np.isfinite(numbers[scan]):
            scan_metadata["scan_number"] = str(int(numbers[scan]))
        title = library[scan].get("name") or (
            f"{run_title} scan {scan_metadata.get('scan_number', scan + 1)}")
        spectra.append(Spectrum(x=masses[first:last], y=intensities[first:last], x_unit=x_unit,
                                y_unit=y_unit, technique="MS", title=title, kind=kind,
                                metadata=scan_metadata, block=where))
    tic = _total_ion_chromatogram(variables, times * factor, spectra, metadata, run_title)
    result = ([tic] if tic is not None and not any(library) else []) + spectra
    result[0].warnings.extend(warnings)
    return result


def _per_scan(variables: dict, name: str, scans: int) -> np.ndarray:
    """A per-scan variable, or NaN for every scan when absent or of the wrong length."""
    values = _numbers(variables, name)
    if values is None or values.size != scans:
        return np.full(scans, np.nan)
    return values


def _total_ion_chromatogram(variables: dict, minutes: np.ndarray, spectra: list[Spectrum],
                            metadata: dict[str, str], run_title: str) -> Spectrum | None:
    """total_intensity against scan time, or the summed scans when total_intensity is absent."""
    if not spectra or not np.isfinite(minutes).all():
        return None
    totals = _numbers(variables, "total_intensity")
    title = f"{run_title}: total ion chromatogram"
    if totals is None or totals.size != minutes.size:
        totals = np.array([spectrum.y.sum() for spectrum in spectra])
        title += " (summed from the scans)"
    return Spectrum(x=minutes, y=totals, x_unit="min", y_unit="counts",
                    technique="chromatogram", title=title, metadata=dict(metadata),
                    block="total_intensity")


def _instrument(variables: dict) -> dict[str, str]:
    """The first instrument's name/model/manufacturer and serial number."""
    values = {}
    for name in ("instrument_name", "instrument_model", "instrument_mfr",
                 "instrument_serial_no"):
        if name in variables and variables[name][0].dtype.kind == "S":
            rows = _rows(variables[name][0])
            if rows and rows[0]:
                values[name] = rows[0]
    metadata = {}
    instrument = values.get("instrument_name") or values.get("instrument_model")
    if instrument:
        metadata["instrument"] = instrument
    if values.get("instrument_serial_no"):
        metadata["serial"] = values["instrument_serial_no"]
    if values.get("instrument_mfr"):
        metadata["manufacturer"] = values["instrument_mfr"]
    return metadata


def _library_entries(variables: dict, scans: int) -> list[dict[str, str]]:
    """Per-scan library fields (names, CAS numbers, formulas...) of a library MS file."""
    entries: list[dict[str, str]] = [{} for _ in range(scans)]
    for name, key in _LIBRARY_VARIABLES.items():
        if name not in variables:
            continue
        values = variables[name][0]
        if values.dtype.kind == "S":
            texts = _rows(values)
        else:
            numbers = _numbers(variables, name)
            texts = [_number_text(key, number) for number in numbers]
        if len(texts) != scans:
            continue
        for entry, text in zip(entries, texts, strict=True):
            if text:
                entry[key] = text
    return entries


def _number_text(key: str, number: float) -> str:
    """A numeric library field as text; CAS numbers in their 50-00-0 form."""
    if not np.isfinite(number):
        return ""
    if key == "cas":
        digits = str(int(number))
        return f"{digits[:-3]}-{digits[-3:-1]}-{digits[-1]}" if len(digits) > 3 else digits
    return f"{number:g}"


def _unit(variables: dict, name: str) -> str:
    """A variable's units attribute as text ('' when absent)."""
    return _text(variables.get(name, (None, {}))[1].get("units", b""))


def _mass_unit(variables: dict) -> str:
    unit = _unit(variables, "mass_values").lower()
    return "m/z" if unit in ("", "m/z", "mz", "amu", "da", "daltons") else unit


def _intensity_unit(variables: dict) -> str:
    unit = _unit(variables, "intensity_values")
    if "arbitrary" in unit.lower() or not unit:
        return "intensity"
    return normalise_y_unit(unit)
