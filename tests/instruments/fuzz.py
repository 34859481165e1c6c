"""Shared strategies for fuzzing the adapters with mutated real and fixture files."""

from hypothesis import strategies as st


def mutated(data: bytes, hot: int = 512):
    """Byte overwrites biased to the first `hot` bytes (headers), and an optional truncation."""
    size = len(data)
    position = st.one_of(st.integers(0, min(size, hot) - 1), st.integers(0, size - 1))
    return st.tuples(st.lists(st.tuples(position, st.integers(0, 255)), max_size=12),
                     st.one_of(st.none(), st.integers(0, size))).map(
        lambda change: _apply(data, *change))


def _apply(data: bytes, writes, cut) -> bytes:
    out = bytearray(data)
    for position, value in writes:
        out[position] = value
    return bytes(out[:cut] if cut is not None else out)
