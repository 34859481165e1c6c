"""Findings per sample: identification scheme, sampling plan, net weight, conclusion, review."""
