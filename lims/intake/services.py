"""Registering and changing cases and samples; every change is audited in its transaction."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import selectinload

from lims.audit.services import record, record_changes, subject_of
from lims.auth.access import can, visible_to
from lims.auth.models import User
from lims.custody.services import ensure_unblocked, record_receipt
from lims.db import db, serialize_writers, utcnow
from lims.errors import Conflict, Invalid, NotFound
from lims.intake.models import (
    STATUS_TRANSITIONS,
    Case,
    Counter,
    Location,
    Sample,
)

CASE_FIELDS = (
    "seizure_ref", "proceedings_ref", "customs_office", "officer_name", "seized_at",
    "seizure_place", "direction", "detection_method", "container_number", "mrn", "hs_code",
    "conveyance", "seals_received", "description", "questions", "deadline",
)
SAMPLE_FIELDS = (
    "description", "packaging", "unit_count", "gross_weight_mg", "net_weight_mg",
    "seal_received", "current_seal", "storage_location_id", "notes",
)


def allocate(name: str) -> int:
    """Atomically take the next value of a named counter (safe under concurrent writers)."""
    session = db.session
    serialize_writers(session)
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(Counter).values(name=name, value=1)
    stmt = stmt.on_conflict_do_update(
        index_elements=[Counter.name], set_={"value": Counter.value + 1}
    ).returning(Counter.value)
    return session.execute(stmt).scalar_one()


def _year() -> int:
    return utcnow().year


def create_case(actor: User, data: dict, *, case_prefix: str,
                investigators: list[User] = ()) -> Case:
    """Register a seizure as a case with a lab-assigned case number."""
    year = _year()
    number = f"{case_prefix}-{year}-{allocate(f'case:{year}'):05d}"
    case = Case(case_number=number, created_by_id=actor.id, received_at=utcnow(),
                **{k: data[k] for k in CASE_FIELDS if k in data})
    case.investigators = list(investigators)
    db.session.add(case)
    db.session.flush()
    snapshot = {k: getattr(case, k) for k in CASE_FIELDS}
    snapshot["investigators"] = [u.username for u in case.investigators]
    record(actor, "create", "case", number, new=snapshot, case_id=case.id)
    return case


def update_case(actor: User, case: Case, data: dict, reason: str,
                investigators: list[User] | None = None) -> dict:
    """Change case fields; a reason is mandatory and every changed field is audited."""
    changes = {k: (getattr(case, k), data[k]) for k in CASE_FIELDS
               if k in data and getattr(case, k) != data[k]}
    if investigators is not None:
        old = [u.username for u in case.investigators]
        new = sorted(u.username for u in investigators)
        if sorted(old) != new:
            changes["investigators"] = (old, new)
    if not changes:
        return {}
    if not (reason or "").strip():
        raise Invalid("Give the reason for this change.", "reason")
    for name, (_old, new) in changes.items():
        if name == "investigators":
            case.investigators = list(investigators)
        else:
            setattr(case, name, new)
    record_changes(actor, "case", case.case_number, changes, reason=reason, case_id=case.id)
    return changes


def _snapshot(sample: Sample) -> dict:
    data = {k: getattr(sample, k) for k in SAMPLE_FIELDS}
    data.update(lab_number=sample.lab_number, kind=sample.kind, status=sample.status,
                parent=sample.parent.lab_number if sample.parent else None)
    return data


def _new_sample(actor: User, case: Case, lab_number: str, item: dict, *, kind: str,
                parent: Sample | None = None) -> Sample:
    sample = Sample(lab_number=lab_number, case=case, kind=kind, parent=parent,
                    created_by_id=actor.id, status="registered", custody_count=0,
                    label_prints=0, seal_discrepancy="",
                    **{k: item[k] for k in SAMPLE_FIELDS if k in item and item[k] is not None})
    if not sample.current_seal:
        sample.current_seal = sample.seal_received or ""
    db.session.add(sample)
    db.session.flush()
    record(actor, "create", "sample", lab_number, new=_snapshot(sample), **subject_of(sample))
    return sample


def register_samples(actor: User, case: Case, items: list[dict], *, lab_prefix: str,
                     seal_intact: bool | None = None) -> list[Sample]:
    """Register the items of a case, each with a new lab number and its receipt event."""
    if not items:
        raise Invalid("Register at least one item.", "items")
    year = _year()
    samples = []
    for item in items:
        number = f"{lab_prefix}-{year}-{allocate(f'sample:{year}'):06d}"
        sample = _new_sample(actor, case, number, item, kind="item")
        record_receipt(actor, sample, from_external=case.officer_name,
                       seal_found=sample.seal_received, seal_intact=item.get("seal_intact",
                                                                             seal_intact),
                       expected_seals=case.seal_list)
        samples.append(sample)
    return samples


def register_subsample(actor: User, parent: Sample, item: dict) -> Sample:
    """Take a sub-sample (or an aliquot of one) from an item held by the actor."""
    ensure_unblocked(parent)
    if parent.holder_user_id != actor.id:
        raise Conflict(f"Only the current holder ({parent.holder_label}) can take a sub-sample "
                       f"of {parent.lab_number}; take it into your custody first.")
    kind = "aliquot" if parent.parent_id else "subsample"
    number = f"{parent.lab_number}.{allocate(f'sub:{parent.lab_number}')}"
    sample = _new_sample(actor, parent.case, number, item, kind=kind, parent=parent)
    record_receipt(actor, sample, from_external=f"taken from {parent.lab_number}",
                   seal_found="", seal_intact=None, expected_seals=[])
    return sample


def update_sample(actor: User, sample: Sample, data: dict, reason: str) -> dict:
    """Change descriptive fields of a sample with a mandatory reason, field by field."""
    ensure_unblocked(sample)
    changes = {k: (getattr(sample, k), data[k]) for k in SAMPLE_FIELDS
               if k in data and k != "current_seal" and getattr(sample, k) != data[k]}
    if not changes:
        return {}
    if not (reason or "").strip():
        raise Invalid("Give the reason for this change.", "reason")
    for name, (_old, new) in changes.items():
        setattr(sample, name, new)
    record_changes(actor, "sample", sample.lab_number, changes, reason=reason,
                   **subject_of(sample))
    return changes


def change_status(actor: User, sample: Sample, new_status: str, reason: str) -> None:
    """Move a sample along a legal status transition, audited with its reason."""
    ensure_unblocked(sample)
    allowed = STATUS_TRANSITIONS.get(sample.status, frozenset())
    if new_status not in allowed:
        options = ", ".join(sorted(allowed)) or "none (final status)"
        raise Conflict(f"{sample.lab_number} is {sample.status}; it can move to {options}, "
                       f"not {new_status}.", "status")
    if not (reason or "").strip():
        raise Invalid("Give the reason for the status change.", "reason")
    record(actor, "status", "sample", sample.lab_number, field="status", old=sample.status,
           new=new_status, reason=reason, **subject_of(sample))
    sample.status = new_status



def record_label_print(actor: User, samples: list[Sample], reason: str, fmt: str) -> None:
    """Count label prints; a reprint needs a reason and is audited."""
    reprints = [s.lab_number for s in samples if s.label_prints > 0]
    if reprints and not (reason or "").strip():
        raise Conflict(f"Labels of {', '.join(reprints[:5])} were printed before; give the "
                       "reason for the reprint.", "reason")
    for sample in samples:
        action = "label_reprint" if sample.label_prints else "label_print"
        sample.label_prints += 1
        record(actor, action, "sample", sample.lab_number, field="label", new=fmt,
               reason=reason or None, **subject_of(sample))


# --- access-scoped reads -------------------------------------------------------------------


def visible_cases(user: User) -> Select:
    """Cases the user may see: all for staff, only assigned ones for investigators."""
    return visible_to(user, select(Case))


def get_case(user: User, case_number: str) -> Case:
    """Load a visible case or raise NotFound (also for cases the user may not see)."""
    # A NUL never matches (and PostgreSQL refuses it in a query).
    case = None if "\x00" in case_number else db.session.scalar(
        visible_cases(user).where(Case.case_number == case_number))
    if case is None or not can(user, "case.view"):
        raise NotFound(f"No case {case_number}.")
    return case


def get_sample(user: User, lab_number: str) -> Sample:
    """Load a visible sample or raise NotFound."""
    query = visible_to(user, select(Sample).where(
        Sample.lab_number == lab_number.strip().upper()))
    sample = None if "\x00" in lab_number else db.session.scalar(query)
    if sample is None or not can(user, "sample.view"):
        raise NotFound(f"No sample {lab_number}.", "lab_number")
    return sample


def lookup_code(user: User, code: str) -> tuple[str, str] | None:
    """Resolve a scanned code to ('sample'|'case', number), or None when not found."""
    code = code.strip().upper()
    if not code:
        return None
    for kind, loader in (("sample", get_sample), ("case", get_case)):
        try:
            loader(user, code)
        except NotFound:
            continue
        return kind, code
    return None


@dataclass(frozen=True)
class SamplePage:
    """One keyset page of samples."""

    samples: list[Sample]
    next_after: int | None


def list_samples(user: User, *, status: str = "", case_number: str = "",
                 holder: str = "", after: int | None = None, limit: int = 50) -> SamplePage:
    """Newest samples first, keyset-paginated, filtered by status, case and holder."""
    query = select(Sample).options(
        selectinload(Sample.case), selectinload(Sample.holder_user),
        selectinload(Sample.holder_location))
    query = visible_to(user, query)
    if status:
        query = query.where(Sample.status == status)
    if case_number:
        case_id = db.session.scalar(select(Case.id).where(Case.case_number == case_number))
        query = query.where(Sample.case_id == (case_id or -1))
    if holder.startswith("user:"):
        uid = db.session.scalar(select(User.id).where(User.username == holder[5:]))
        query = query.where(Sample.holder_user_id == (uid or -1))
    elif holder.startswith("location:"):
        lid = db.session.scalar(select(Location.id).where(Location.code == holder[9:]))
        query = query.where(Sample.holder_location_id == (lid or -1))
    if after:
        query = query.where(Sample.id < after)
    rows = list(db.session.scalars(query.order_by(Sample.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return SamplePage(rows, rows[-1].id if more and rows else None)


def recent_cases(user: User, limit: int = 20) -> list[tuple[Case, int]]:
    """The most recently received visible cases, each with its number of samples."""
    n_samples = (select(func.count(Sample.id)).where(Sample.case_id == Case.id)
                 .correlate(Case).scalar_subquery())
    query = visible_cases(user).add_columns(n_samples).order_by(Case.id.desc()).limit(limit)
    return [(case, n) for case, n in db.session.execute(query)]


def active_locations() -> list[Location]:
    """Storage locations in use, by code."""
    return list(db.session.scalars(
        select(Location).where(Location.is_active.is_(True)).order_by(Location.code)))


def get_location(code: str) -> Location:
    """Load a storage location by code or raise NotFound."""
    loc = db.session.scalar(select(Location).where(Location.code == code.strip().upper()))
    if loc is None:
        raise NotFound(f"No storage location {code}.", "location")
    return loc


def create_location(actor: User, code: str, name: str) -> Location:
    """Add a storage location (audited)."""
    code = code.strip().upper()
    if db.session.scalar(select(Location.id).where(Location.code == code)):
        raise Conflict(f"Location {code} exists.", "code")
    loc = Location(code=code, name=name.strip() or code, is_active=True)
    db.session.add(loc)
    db.session.flush()
    record(actor, "create", "location", code, new={"name": loc.name})
    return loc


def staff_users(roles: tuple[str, ...] = ("technician", "chemist", "reviewer", "admin")
                ) -> list[User]:
    """Active users who can hold evidence."""
    return list(db.session.scalars(select(User).where(
        User.is_active.is_(True), User.role.in_(roles)).order_by(User.full_name)))


def investigators() -> list[User]:
    """Active investigator accounts."""
    return staff_users(("investigator",))


def item_from_row(row, locations: dict[str, int]) -> dict:
    """Sample fields from a parsed sheet row."""
    return {
        "description": row.description, "packaging": row.packaging,
        "unit_count": row.unit_count, "gross_weight_mg": row.gross_weight_mg,
        "net_weight_mg": row.net_weight_mg, "seal_received": row.seal_number,
        "storage_location_id": locations.get(row.storage_location),
        "notes": row.notes,
    }


def item_facts(sample: Sample) -> dict:
    """What was registered about an item, as plain values (the API and certificates show it)."""
    return {
        "lab_number": sample.lab_number,
        "kind": sample.kind,
        "parent": sample.parent.lab_number if sample.parent else None,
        "description": sample.description,
        "packaging": sample.packaging,
        "unit_count": sample.unit_count,
        "gross_weight_mg": sample.gross_weight_mg,
        "net_weight_mg": sample.net_weight_mg,
    }
