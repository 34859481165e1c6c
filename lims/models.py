"""Import every model module so that the metadata knows all tables (migrations, tests)."""

from lims.audit.models import AuditEntry
from lims.auth.models import ApiToken, AuthSession, User, case_investigator
from lims.certificates.models import Certificate
from lims.custody.models import CustodyEvent
from lims.esign.models import Signature
from lims.findings.models import Finding, FindingSubstance, FindingTechnique
from lims.intake.models import Case, Counter, Location, Sample
from lims.library.models import (
    LegalStatus,
    LibraryEntry,
    ReferenceLibrary,
    Substance,
    SubstanceSynonym,
)
from lims.measurements.models import Instrument, Measurement, RawFile, SpectrumRecord
from lims.search.models import Search, SearchHit

__all__ = ["ApiToken", "AuditEntry", "AuthSession", "Case", "Certificate", "Counter",
           "CustodyEvent", "Finding", "FindingSubstance", "FindingTechnique", "Instrument",
           "LegalStatus", "LibraryEntry", "Location", "Measurement", "RawFile",
           "ReferenceLibrary", "Sample", "Search", "SearchHit", "Signature", "SpectrumRecord",
           "Substance", "SubstanceSynonym", "User", "case_investigator"]
