"""Findings and certificates written straight into the tables, at chosen times.

The statistics and the portal only read these rows; building them through the signing and
review workflow would test that workflow again and could not place them in time.
"""

from __future__ import annotations

import hashlib
import itertools
from datetime import datetime

from sqlalchemy import select

from lims.auth.models import User
from lims.certificates.models import Certificate
from lims.db import db
from lims.esign.models import Signature
from lims.findings.models import Finding, FindingSubstance
from lims.intake.models import Sample
from lims.library.models import Substance

_numbers = itertools.count(1)


def substance(name: str) -> Substance:
    """The substance of that name, created when missing."""
    found = db.session.scalar(select(Substance).where(Substance.name == name))
    if found is None:
        found = Substance(name=name, cas=None, formula="", notes="")
        db.session.add(found)
        db.session.flush()
    return found


def approved_finding(author: User, sample: Sample, names: list[str], approved_at: datetime,
                     *, status: str = "approved", result: str = "identified",
                     version: int = 1) -> Finding:
    """A finding of the sample naming the substances, approved at the given time."""
    finding = Finding(sample_id=sample.id, version=version, status=status, result=result,
                      limitations="none", author_id=author.id, submitted_at=approved_at,
                      reviewed_at=approved_at, reviewed_by_id=author.id)
    db.session.add(finding)
    db.session.flush()
    for position, name in enumerate(names):
        db.session.add(FindingSubstance(finding_id=finding.id, substance_id=substance(name).id,
                                        salt_form="", position=position))
    db.session.flush()
    return finding


def issued_certificate(reviewer: User, finding: Finding, issued_at: datetime, *,
                       status: str = "issued") -> Certificate:
    """A certificate row for an approved finding, issued at the given time."""
    n = next(_numbers)
    digest = hashlib.sha256(f"certificate {n}".encode()).hexdigest()
    signature = Signature(user_id=reviewer.id, printed_name=reviewer.full_name,
                          meaning="approved", signed_at=issued_at, subject_type="finding",
                          subject_id=str(finding.id), content_sha256=digest)
    db.session.add(signature)
    db.session.flush()
    sample = db.session.get(Sample, finding.sample_id)
    certificate = Certificate(
        number=f"CL-CERT-{issued_at.year}-{n:05d}", case_id=sample.case_id,
        sample_id=sample.id, finding_id=finding.id, status=status, snapshot_json="{}",
        snapshot_sha256=digest, pdf_sha256=digest, pdf_size=1, token_sha256=digest,
        issued_at=issued_at, issued_by_id=reviewer.id, signature_id=signature.id)
    db.session.add(certificate)
    db.session.flush()
    return certificate
