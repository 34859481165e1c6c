"""Pure spectrometer file adapters: bytes in, spectra out (no Flask, no database, no lims)."""

from instruments.core import Detection, ParseError, Spectrum

__all__ = ["Detection", "ParseError", "Spectrum"]
