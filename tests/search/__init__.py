"""Tests of the library-search engine (lims.search.scores and lims.search.index)."""
