"""Tests of the pure library-search engine (libsearch.scores and libsearch.index)."""
