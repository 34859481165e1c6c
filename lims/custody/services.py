"""Chain-of-custody rules: continuity, a person between locations, seals, confirmations."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from lims.audit.services import record
from lims.auth.models import User
from lims.auth.services import confirm_password
from lims.custody.models import CustodyEvent
from lims.db import db, utcnow
from lims.errors import Conflict, Forbidden, Invalid
from lims.failpoints import failpoint
from lims.identifiers import normalize_seal
from lims.intake.models import STATUS_TRANSITIONS, TERMINAL_STATUSES, Location, Sample

STATUS_AFTER = {"storage_in": "in_storage", "return": "returned", "destruction": "destroyed"}


@dataclass(frozen=True)
class Party:
    """One side of a hand-over: a person, a storage location or someone outside the lab."""

    user: User | None = None
    location: Location | None = None
    external: str = ""

    @property
    def key(self) -> str:
        """Stable text key, e.g. 'user:alice' or 'location:VAULT-A'."""
        if self.user is not None:
            return f"user:{self.user.username}"
        if self.location is not None:
            return f"location:{self.location.code}"
        return f"external:{self.external}" if self.external else ""

    @property
    def label(self) -> str:
        """Name as shown to people."""
        if self.user is not None:
            return self.user.display_name
        if self.location is not None:
            return f"{self.location.code} ({self.location.name})"
        return self.external or "nobody"


def holder_of(sample: Sample) -> Party:
    """The current custodian of a sample."""
    return Party(user=sample.holder_user, location=sample.holder_location)


def party_from_key(key: str) -> Party:
    """Resolve 'user:NAME' or 'location:CODE' (as sent by forms and the API)."""
    kind, _, value = (key or "").strip().partition(":")
    if kind == "user" and value:
        user = db.session.scalar(select(User).where(User.username == value.lower()))
        if user is None or not user.is_active:
            raise Invalid(f"No active user {value!r}.", "to")
        if user.role == "investigator":
            raise Invalid("Investigators do not hold evidence inside the laboratory.", "to")
        return Party(user=user)
    if kind == "location" and value:
        location = db.session.scalar(select(Location).where(Location.code == value.upper()))
        if location is None or not location.is_active:
            raise Invalid(f"No storage location {value!r}.", "to")
        return Party(location=location)
    raise Invalid("Choose who or where receives the item ('user:NAME' or 'location:CODE').",
                  "to")


def ensure_unblocked(sample: Sample) -> None:
    """Refuse any further step while a seal discrepancy is unresolved or the item is gone."""
    if sample.seal_discrepancy:
        raise Conflict(f"{sample.lab_number} has an unresolved seal discrepancy: "
                       f"{sample.seal_discrepancy} Resolve it with a reason first.")
    if sample.status in TERMINAL_STATUSES:
        raise Conflict(f"{sample.lab_number} is {sample.status}; no further step is possible.")


def _seal_check(sample: Sample, seal_found: str, seal_intact: bool | None,
                expected: list[str]) -> tuple[str, bool, str]:
    """Compare the seal found with the expected one(s); return (found, ok, discrepancy)."""
    found = normalize_seal(seal_found) if seal_found else ""
    if not expected:
        return found, seal_intact is not False, (
            "" if seal_intact is not False else f"Seal {found or '(none)'} found broken.")
    if not found:
        raise Invalid(f"Enter the seal number found on the item (expected "
                      f"{' or '.join(expected)}).", "seal_found")
    if seal_intact is None:
        raise Invalid("Say whether the seal is intact.", "seal_intact")
    problems = []
    if found not in expected:
        problems.append(f"seal {found} found where {' or '.join(expected)} was expected")
    if not seal_intact:
        problems.append(f"seal {found} found broken")
    text = "; ".join(problems)
    # Not str.capitalize(): it would lower-case the seal numbers.
    message = f"{text[:1].upper()}{text[1:]}." if problems else ""
    return found, not problems, message


def preview_seal(sample: Sample, seal_found: str, seal_intact: bool | None) -> str:
    """The discrepancy a hand-over would record, for the check step ('' when none)."""
    expected = [sample.current_seal] if sample.current_seal else []
    return _seal_check(sample, seal_found, seal_intact, expected)[2]


def _append(actor: User, sample: Sample, event_type: str, source: Party, target: Party, *,
            expected: list[str], found: str, seal_ok: bool, new_seal: str = "",
            weight_mg: int | None = None, witness: str = "", note: str = "",
            seal_intact: bool | None = None, confirmed_by: User | None = None) -> CustodyEvent:
    event = CustodyEvent(
        sample=sample, sequence=sample.custody_count + 1, event_type=event_type,
        occurred_at=utcnow(), from_user=source.user, from_location=source.location,
        from_external=source.external if source.user is None and source.location is None
        else "", to_user=target.user, to_location=target.location,
        to_external=target.external if target.user is None and target.location is None else "",
        recorded_by=actor, confirmed_by=confirmed_by, seal_expected=" or ".join(expected),
        seal_found=found, seal_intact=seal_intact, seal_ok=seal_ok,
        new_seal=normalize_seal(new_seal) if new_seal else "", weight_mg=weight_mg,
        witness=witness.strip(), note=note.strip())
    db.session.add(event)
    sample.custody_count = event.sequence
    sample.holder_user = target.user
    sample.holder_location = target.location
    if event.new_seal:
        sample.current_seal = event.new_seal
    db.session.flush()
    record(actor, "custody", "custody_event", f"{sample.lab_number}#{event.sequence}",
           new={"type": event_type, "from": source.key or source.label, "to": target.key
                or target.label, "seal_expected": event.seal_expected, "seal_found": found,
                "seal_intact": seal_intact, "seal_ok": seal_ok, "new_seal": event.new_seal,
                "weight_mg": weight_mg, "witness": event.witness, "note": event.note,
                "confirmed_by": confirmed_by.username if confirmed_by else None},
           case_id=sample.case_id, sample_id=sample.id)
    return event


def _flag(actor: User, sample: Sample, discrepancy: str, event: CustodyEvent) -> None:
    if discrepancy:
        sample.seal_discrepancy = f"{discrepancy} (custody event {event.sequence})"
        record(actor, "seal_discrepancy", "sample", sample.lab_number, field="seal_discrepancy",
               old="", new=sample.seal_discrepancy, case_id=sample.case_id, sample_id=sample.id)


def record_receipt(actor: User, sample: Sample, *, from_external: str, seal_found: str,
                   seal_intact: bool | None, expected_seals: list[str]) -> CustodyEvent:
    """First link of the chain: the laboratory receives the item from outside."""
    expected = expected_seals if seal_found else []
    found, ok, discrepancy = _seal_check(sample, seal_found, seal_intact, expected)
    event = _append(actor, sample, "receipt", Party(external=from_external or "submitter"),
                    Party(user=actor), expected=expected, found=found, seal_ok=ok,
                    seal_intact=seal_intact, confirmed_by=actor)
    _flag(actor, sample, discrepancy, event)
    return event


def _set_status(actor: User, sample: Sample, new_status: str, event: CustodyEvent) -> None:
    if sample.status == new_status:
        return
    record(actor, "status", "sample", sample.lab_number, field="status", old=sample.status,
           new=new_status, reason=f"custody event {event.sequence} ({event.event_type})",
           case_id=sample.case_id, sample_id=sample.id)
    sample.status = new_status


def transfer(actor: User, sample: Sample, *, expected_from: str, to: Party,
             receiver_password: str = "", seal_found: str = "", seal_intact: bool | None = None,
             new_seal: str = "", weight_mg: int | None = None, witness: str = "",
             note: str = "", final: str = "") -> CustodyEvent:
    """Hand an item over; `final` is 'return' or 'destruction' for items leaving the lab."""
    ensure_unblocked(sample)
    source = holder_of(sample)
    if (expected_from or "").strip().lower() != source.key.lower():
        raise Conflict(f"Out of order: {sample.lab_number} is held by {source.label}, not "
                       f"{expected_from or 'nobody'}. It may have been handed over already; "
                       "reload the sample.", "from")
    if final:
        if final not in ("return", "destruction"):
            raise Invalid("A final event is 'return' or 'destruction'.", "event_type")
        if not to.external.strip():
            raise Invalid("Name the recipient or the destruction commission.", "to")
        if final == "destruction" and not witness.strip():
            raise Invalid("A destruction needs a witness.", "witness")
        target_status = STATUS_AFTER[final]
        if target_status not in STATUS_TRANSITIONS[sample.status]:
            raise Conflict(f"{sample.lab_number} is {sample.status} and cannot be {target_status}"
                           " yet.", "event_type")
    elif to.key.lower() == source.key.lower():
        raise Conflict(f"Duplicate: {sample.lab_number} is already held by {source.label}.",
                       "to")
    if source.location is not None and to.location is not None:
        raise Conflict("A move from one storage location to another needs a person between: "
                       "take the item out to a person first.", "to")
    if source.user is not None and source.user.id != actor.id:
        raise Forbidden(f"Only {source.user.full_name}, who holds {sample.lab_number}, can hand "
                        "it over.")
    if source.user is None and source.location is None:
        raise Conflict(f"{sample.lab_number} has no current holder.")
    confirmed_by = None
    if to.user is not None:
        confirm_password(to.user, receiver_password, "receiver_password")
        confirmed_by = to.user
    event_type = final or ("storage_in" if to.location is not None else
                           "storage_out" if source.location is not None else "transfer")
    expected = [sample.current_seal] if sample.current_seal else []
    found, ok, discrepancy = _seal_check(sample, seal_found, seal_intact, expected)
    event = _append(actor, sample, event_type, source, to, expected=expected, found=found,
                    seal_ok=ok, new_seal=new_seal, weight_mg=weight_mg, witness=witness,
                    note=note, seal_intact=seal_intact, confirmed_by=confirmed_by)
    _flag(actor, sample, discrepancy, event)
    target_status = STATUS_AFTER.get(event_type)
    if target_status and target_status in STATUS_TRANSITIONS[sample.status]:
        _set_status(actor, sample, target_status, event)
    failpoint("custody.recorded")
    return event


def reseal(actor: User, sample: Sample, *, seal_found: str, seal_intact: bool | None,
           new_seal: str, weight_mg: int | None = None, note: str = "") -> CustodyEvent:
    """Open and reseal an item held by the actor, recording both seals."""
    ensure_unblocked(sample)
    if sample.holder_user_id != actor.id:
        raise Forbidden(f"Only the holder ({sample.holder_label}) can open and reseal "
                        f"{sample.lab_number}.")
    if not new_seal.strip():
        raise Invalid("Enter the new seal number applied.", "new_seal")
    expected = [sample.current_seal] if sample.current_seal else []
    found, ok, discrepancy = _seal_check(sample, seal_found, seal_intact, expected)
    me = Party(user=actor)
    event = _append(actor, sample, "reseal", me, me, expected=expected, found=found, seal_ok=ok,
                    new_seal=new_seal, weight_mg=weight_mg, note=note, seal_intact=seal_intact,
                    confirmed_by=actor)
    _flag(actor, sample, discrepancy, event)
    return event


def resolve_discrepancy(actor: User, sample: Sample, reason: str) -> CustodyEvent:
    """Close an open seal discrepancy with a reason; the chain records the resolution."""
    if not sample.seal_discrepancy:
        raise Conflict(f"{sample.lab_number} has no open seal discrepancy.")
    if len(reason.strip()) < 10:
        raise Invalid("Explain how the discrepancy was resolved (at least 10 characters).",
                      "reason")
    holder = holder_of(sample)
    event = _append(actor, sample, "seal_resolution", holder, holder, expected=[], found="",
                    seal_ok=True, note=reason)
    record(actor, "update", "sample", sample.lab_number, field="seal_discrepancy",
           old=sample.seal_discrepancy, new="", reason=reason, case_id=sample.case_id,
           sample_id=sample.id)
    sample.seal_discrepancy = ""
    return event


def timeline(sample: Sample) -> list[CustodyEvent]:
    """Every custody event of a sample in order."""
    return list(db.session.scalars(
        select(CustodyEvent).where(CustodyEvent.sample_id == sample.id)
        .options(selectinload(CustodyEvent.from_user), selectinload(CustodyEvent.to_user),
                 selectinload(CustodyEvent.from_location),
                 selectinload(CustodyEvent.to_location),
                 selectinload(CustodyEvent.recorded_by),
                 selectinload(CustodyEvent.confirmed_by))
        .order_by(CustodyEvent.sequence)))
