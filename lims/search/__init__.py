"""Numeric library search: exact scores (scores.py) and the memory-mapped index (index.py)."""
