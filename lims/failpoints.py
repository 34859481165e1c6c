"""Failpoints: places where a crash test can have the process die at once (SIGKILL)."""

from __future__ import annotations

import os
import signal

from flask import current_app

POINTS = ("measurement.saved", "custody.recorded", "certificate.stored")


def failpoint(name: str) -> None:
    """Kill this process with SIGKILL when a crash test armed `name` (LIMS_FAILPOINTS)."""
    if name in current_app.config["LIMS"].failpoints:
        os.kill(os.getpid(), signal.SIGKILL)
