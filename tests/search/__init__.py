"""Tests of library search in the application: stored searches, hits and decisions."""
