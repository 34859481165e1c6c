"""Pure computations for analyses beyond drug identification (standard library, numpy, scipy)."""
