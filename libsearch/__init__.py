"""Pure library-search engine: exact scores and the memory-mapped index (numpy and scipy only)."""
