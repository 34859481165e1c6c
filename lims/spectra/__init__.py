"""Spectrum review: the interactive viewer, recipe form and overlays."""
