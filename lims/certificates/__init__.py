"""Substance-identification certificates: frozen, rendered, signed, verified, amended."""
