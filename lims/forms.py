"""Form fields and helpers shared by the feature forms and views (web and API alike)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Generic, TypeVar

from flask import current_app
from wtforms import Field, StringField
from wtforms.validators import ValidationError

from lims.db import db
from lims.errors import DomainError
from lims.identifiers import IdentifierError
from lims.units import grams_text, parse_weight_mg

T = TypeVar("T")


def apply_error(form, error: DomainError) -> None:
    """Show a domain error beside its field, or at the top of the form."""
    field = getattr(form, error.field, None) if error.field else None
    if isinstance(field, Field):
        field.errors = [*field.errors, error.message] if isinstance(field.errors, list) \
            else [error.message]
    else:
        form.form_errors.append(error.message)


def field_errors(form) -> list[tuple[Field, str]]:
    """Each field in error with its first message, in the form's order."""
    return [(field, field.errors[0]) for field in form if field.errors]


@dataclass(frozen=True)
class Attempt(Generic[T]):
    """What one service call made for a form gave: its value, or the refusal now on the form."""

    value: T | None = None
    error: DomainError | None = None

    @property
    def ok(self) -> bool:
        """True when the call went through and was committed."""
        return self.error is None


REFUSED = 422  # the one status of a page that shows a refused form again


def form_status(form, outcome: Attempt | None = None) -> int:
    """REFUSED when the form shows errors (input or refusal), else 200.

    The one exception is a throttled attempt (429 with its wait): the client must slow down.
    """
    if outcome is not None and outcome.error is not None and outcome.error.status == 429:
        return 429
    return REFUSED if form.errors else 200


def run(action: Callable[[], T],
        refusals: type[DomainError] | tuple[()] = DomainError) -> Attempt[T]:
    """Call one service and commit; a refusal ends the transaction (the one commit helper)."""
    try:
        value = action()
    except refusals as error:
        if error.keep_writes:  # e.g. a failed password: the counted attempt must stay
            db.session.commit()
        else:
            db.session.rollback()
        return Attempt(error=error)
    db.session.commit()
    return Attempt(value)


def committed(action: Callable[[], T]) -> T:
    """Call one service through `run`; a refusal goes on to the error handler (no form)."""
    return run(action, refusals=()).value


def attempt(form, action: Callable[[], T],
            refusals: type[DomainError] = DomainError) -> Attempt[T]:
    """Call one service through `run`; a refusal goes on the form."""
    outcome = run(action, refusals)
    if outcome.error is not None:
        apply_error(form, outcome.error)
    return outcome


def form_errors(form) -> list[tuple[str, str, str]]:
    """(field id, label, message) for the error summary at the top of a page."""
    out = [("", "", message) for message in form.form_errors]
    for field in form:
        for message in field.errors if isinstance(field.errors, list) else []:
            out.append((field.id, field.label.text, message))
    return out


class WeightField(StringField):
    """A weight typed in grams (or with a unit); its data is integer milligrams."""

    def process_formdata(self, valuelist):
        """Parse the typed weight."""
        self.raw = valuelist[0] if valuelist else ""
        try:
            self.data = parse_weight_mg(self.raw)
        except ValueError as error:
            self.data = None
            raise ValueError(str(error)) from error

    def _value(self):
        if self.raw_data:
            return self.raw_data[0]
        return grams_text(self.data)


class LabDateTimeField(StringField):
    """Date and time in the lab's time zone (or ISO 8601 with an offset); data is UTC."""

    def process_formdata(self, valuelist):
        """Parse 'YYYY-MM-DDTHH:MM' as lab time, or an ISO 8601 time with an offset."""
        text = (valuelist[0] if valuelist else "").strip()
        if not text:
            self.data = None
            return
        try:
            value = datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "T"))
        except ValueError as error:
            self.data = None
            raise ValueError("Use a date and time like 2026-11-30T14:05.") from error
        if value.tzinfo is None:
            value = value.replace(tzinfo=current_app.config["LIMS"].timezone)
        self.data = value.astimezone(UTC)

    def _value(self):
        if self.raw_data:
            return self.raw_data[0]
        if self.data is None:
            return ""
        local = self.data.astimezone(current_app.config["LIMS"].timezone)
        return local.strftime("%Y-%m-%dT%H:%M")


def identifier(normalize):
    """A validator that normalizes an identifier field in place or names what is wrong."""

    def check(_form, field):
        if not field.data:
            field.data = ""
            return
        try:
            field.data = normalize(field.data)
        except IdentifierError as error:
            raise ValidationError(str(error)) from error

    return check


def not_after_now(_form, field) -> None:
    """Refuse dates in the future."""
    if field.data and field.data > datetime.now(UTC):
        raise ValidationError("This time is in the future.")
