"""Library search in the application: stored searches, hits and decisions (engine: libsearch)."""
