"""Import every model module so that the metadata knows all tables (migrations, tests)."""

from lims.audit.models import AuditEntry
from lims.auth.models import ApiToken, AuthSession, User
from lims.custody.models import CustodyEvent
from lims.intake.models import Case, Counter, Location, Sample, case_investigator
from lims.measurements.models import Instrument, Measurement, RawFile, SpectrumRecord

__all__ = ["ApiToken", "AuditEntry", "AuthSession", "Case", "Counter", "CustodyEvent",
           "Instrument", "Location", "Measurement", "RawFile", "Sample", "SpectrumRecord",
           "User", "case_investigator"]
