"""Spectrum review: processing recipes, the interactive viewer and overlays."""
