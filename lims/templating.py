"""Template filters and globals: dates in the lab's zone, weights with units, permissions."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Flask, current_app, g
from markupsafe import Markup, escape

from lims.auth.access import can
from lims.forms import form_errors
from lims.units import format_weight


def local_time(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> Markup:
    """A time in the laboratory's zone, with UTC on hover."""
    if value is None:
        return Markup("—")
    tz = current_app.config["LIMS"].timezone
    utc = value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    local = value.astimezone(tz).strftime(fmt)
    return Markup('<time datetime="{}" title="{}">{}</time>').format(
        value.astimezone(UTC).isoformat(), utc, local)


def status_badge(status: str) -> Markup:
    """A coloured badge for a sample status."""
    return Markup('<span class="badge status-{}">{}</span>').format(
        escape(status), escape(status.replace("_", " ")))


def register_template_helpers(app: Flask) -> None:
    """Install the filters and globals used by every template."""
    app.add_template_filter(local_time, "dt")
    app.add_template_filter(format_weight, "weight")
    app.add_template_filter(status_badge, "status")
    app.add_template_global(form_errors, "form_errors")

    @app.context_processor
    def _globals():
        user = g.get("user")
        return {
            "current_user": user,
            "can": lambda permission: can(user, permission),
            "lab_name": current_app.config["LIMS"].lab_name,
        }
