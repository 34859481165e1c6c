"""Import every model module so that the metadata knows all tables (migrations, tests)."""

from lims.audit.models import AuditEntry
from lims.auth.models import ApiToken, AuthSession, User
from lims.custody.models import CustodyEvent
from lims.intake.models import Case, Counter, Location, Sample, case_investigator
from lims.library.models import (
    LegalStatus,
    LibraryEntry,
    ReferenceLibrary,
    Substance,
    SubstanceSynonym,
)
from lims.measurements.models import Instrument, Measurement, RawFile, SpectrumRecord
from lims.search.models import Search, SearchHit

__all__ = ["ApiToken", "AuditEntry", "AuthSession", "Case", "Counter", "CustodyEvent",
           "Instrument", "LegalStatus", "LibraryEntry", "Location", "Measurement", "RawFile",
           "ReferenceLibrary", "Sample", "Search", "SearchHit", "SpectrumRecord", "Substance",
           "SubstanceSynonym", "User", "case_investigator"]
