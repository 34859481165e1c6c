"""The library index: build, open, two-pass search whose reported numbers are the exact scores."""

import numpy as np
import pytest

from instruments.registry import parse
from libsearch import scores
from libsearch.index import ALGORITHMS, build_index, common_axis, open_index
from tests.instruments.corpus import CORPUS, corpus_bytes

SEED = 20261202
MS_ALGORITHMS = ("cosine", "nist_identity", "nist_reverse")
SPECTRAL_ALGORITHMS = ("hqi", "hqi_derivative", "euclidean")
AXIS = np.arange(400.0, 4000.0 + 1, 2.0)


def ei_library(rng, count=300):
    entries = []
    for _ in range(count):
        n = int(rng.integers(10, 60))
        mz = np.sort(rng.choice(np.arange(30, 400), n, replace=False)).astype(float)
        intensity = np.round(999 * (rng.pareto(1.2, n) + 0.01) / 10)
        entries.append((mz, intensity + 1))
    return entries


def ir_library(rng, count=200):
    entries = []
    for number in range(count):
        y = np.zeros_like(AXIS)
        for centre in rng.uniform(500, 3700, int(rng.integers(5, 20))):
            y += rng.uniform(0.05, 1) / (1 + ((AXIS - centre) / rng.uniform(4, 20)) ** 2)
        x = AXIS[::-1].copy()  # stored high to low, as IR files are
        y = y[::-1].copy()
        if number % 10 == 3:  # a few entries cover only part of the axis (ATR cut-off)
            x, y = x[:1400], y[:1400]
        entries.append((x, y))
    return entries


@pytest.fixture(scope="module")
def ms_index(tmp_path_factory):
    entries = ei_library(np.random.default_rng(SEED))
    directory = tmp_path_factory.mktemp("ms") / "index"
    info = build_index(entries, "ms", directory)
    return entries, open_index(directory), info


@pytest.fixture(scope="module")
def ir_index(tmp_path_factory):
    entries = ir_library(np.random.default_rng(SEED + 1))
    directory = tmp_path_factory.mktemp("ir") / "index"
    info = build_index(entries, "spectral", directory)
    return entries, open_index(directory), info


def perturbed(rng, mz, intensity):
    """A noisy measurement of a library spectrum: intensity noise, dropped and added peaks."""
    noisy = intensity * rng.lognormal(0, 0.15, intensity.size)
    keep = (noisy > np.percentile(noisy, 30)) | (rng.random(noisy.size) > 0.3)
    extra = rng.choice(np.arange(30, 400), 5).astype(float)
    return (np.concatenate((mz[keep], extra)),
            np.concatenate((noisy[keep], rng.uniform(1, 20, 5))))


def exact_ms(algorithm, query, entry):
    q, r = np.column_stack(query), np.column_stack(entry)
    if algorithm == "cosine":
        return scores.cosine_greedy(q, r)[0]
    return scores.nist_identity(q, r, reverse=algorithm == "nist_reverse")


def exact_spectral(algorithm, index, query, entry, mask=()):
    keep = scores.axis_mask(index.axis, mask, scores.coverage(query[0]))
    keep &= scores.axis_mask(index.axis, (), scores.coverage(entry[0]))
    u = scores.resample(*query, index.axis)[keep]
    v = scores.resample(*entry, index.axis)[keep]
    function = {"hqi": scores.correlation, "hqi_derivative": scores.derivative_correlation,
                "euclidean": scores.euclidean_distance}[algorithm]
    return function(u, v)


def test_build_reports_what_it_stored(ms_index, ir_index):
    _, ms, ms_info = ms_index
    assert (ms_info["kind"], ms_info["size"], ms.kind, ms.size) == ("ms", 300, "ms", 300)
    assert ms_info["bytes"] > 0
    _, ir, ir_info = ir_index
    assert (ir_info["kind"], ir_info["size"], ir_info["points"]) == ("spectral", 200, 1801)
    assert ir.axis[0] == 400.0 and ir.axis[-1] == 4000.0
    assert common_axis(200.0, 800.0)[1] - 200.0 == 0.5  # UV-Vis: 1201 points
    assert set(ALGORITHMS) == set(MS_ALGORITHMS + SPECTRAL_ALGORITHMS)


@pytest.mark.parametrize("algorithm", MS_ALGORITHMS)
def test_ms_identical_spectrum_ranks_first_and_raw_is_exact(ms_index, algorithm):
    entries, index, _ = ms_index
    for position in (0, 17, 299):
        hits = index.search(*entries[position], algorithm=algorithm, top=5)
        assert hits[0].position == position
        assert hits[0].raw == pytest.approx(1.0 if algorithm == "cosine" else 999.5, abs=1e-12)
        for hit in hits:
            assert hit.raw == exact_ms(algorithm, entries[position], index.entry(hit.position))
            assert hit.score == hit.raw
        raws = [hit.raw for hit in hits]
        assert raws == sorted(raws, reverse=True)
    assert index.search(*entries[0], algorithm="cosine")[0].matches == entries[0][0].size


@pytest.mark.parametrize("algorithm", MS_ALGORITHMS)
def test_ms_noisy_queries_find_their_source(ms_index, algorithm):
    entries, index, _ = ms_index
    rng = np.random.default_rng(SEED + 5)
    sources = rng.choice(len(entries), 30, replace=False)
    queries = [perturbed(rng, *entries[s]) for s in sources]
    found = [hits[0].position for hits in index.search_batch(queries, algorithm=algorithm)]
    assert np.mean(np.array(found) == sources) >= 0.9
    # The hit list of a noisy query is the exact brute-force ranking's top (no fast-pass leak).
    query = queries[0]
    brute = sorted(range(len(entries)), key=lambda p: (-exact_ms(algorithm, query, entries[p]), p))
    hits = index.search(*query, algorithm=algorithm, top=5)
    assert [h.position for h in hits] == brute[:5]


@pytest.mark.parametrize("algorithm", SPECTRAL_ALGORITHMS)
def test_spectral_identical_ranks_first_and_raw_is_exact(ir_index, algorithm):
    entries, index, _ = ir_index
    for position in (0, 3, 150):  # 3 covers only part of the axis
        hits = index.search(*entries[position], algorithm=algorithm, top=5)
        assert hits[0].position == position
        if algorithm == "euclidean":
            assert hits[0].score == pytest.approx(0.0, abs=1e-7)
        else:
            assert hits[0].score == pytest.approx(100.0, abs=1e-9)
        for hit in hits:
            assert hit.raw == exact_spectral(algorithm, index, entries[position],
                                             index.entry(hit.position))


@pytest.mark.parametrize("algorithm", SPECTRAL_ALGORITHMS)
def test_masked_and_partial_queries_report_exact_masked_scores(ir_index, algorithm):
    entries, index, _ = ir_index
    rng = np.random.default_rng(SEED + 6)
    mask = [(2400.0, 2280.0), (3700.0, 4000.0)]
    source = entries[42]
    # A measured query: scaled, offset, noisy, and only 650-3900 cm-1 (its own coverage).
    x = source[0][50:-125]
    y = 0.7 * source[1][50:-125] + 0.05 + rng.normal(scale=0.002, size=x.size)
    hits = index.search(x, y, algorithm=algorithm, top=10, mask=mask)
    assert hits[0].position == 42
    for hit in hits:
        assert hit.raw == exact_spectral(algorithm, index, (x, y), index.entry(hit.position),
                                         mask)
    brute = sorted(range(len(entries)), key=lambda p: (
        (1 if algorithm == "euclidean" else -1) * exact_spectral(algorithm, index, (x, y),
                                                                 entries[p], mask), p))
    assert [h.position for h in hits] == brute[:10]
    # The mask changes the numbers: the masked region is really left out.
    unmasked = index.search(x, y, algorithm=algorithm, top=1)[0]
    assert unmasked.raw != hits[0].raw


def test_batch_equals_single(ms_index, ir_index):
    entries, index, _ = ms_index
    queries = entries[:12]
    for algorithm in MS_ALGORITHMS:
        assert index.search_batch(queries, algorithm=algorithm, top=7) == [
            index.search(*q, algorithm=algorithm, top=7) for q in queries]
    entries, index, _ = ir_index
    mixed = [entries[1], (entries[2][0][100:], entries[2][1][100:]), entries[3]]
    for algorithm in SPECTRAL_ALGORITHMS:
        assert index.search_batch(mixed, algorithm=algorithm, top=4, mask=[(1000, 900)]) == [
            index.search(*q, algorithm=algorithm, top=4, mask=[(1000, 900)]) for q in mixed]


def test_wrong_kind_empty_and_no_overlap_raise_value_error(ms_index, ir_index):
    ms_entries, ms, _ = ms_index
    ir_entries, ir, _ = ir_index
    with pytest.raises(ValueError, match="does not apply"):
        ms.search(*ms_entries[0], algorithm="hqi")
    with pytest.raises(ValueError, match="does not apply"):
        ir.search(*ir_entries[0], algorithm="cosine")
    with pytest.raises(ValueError, match="the query is a 'ms' spectrum"):
        ir.search(*ms_entries[0], algorithm="hqi", kind="ms")
    with pytest.raises(ValueError, match="unknown algorithm"):
        ms.search(*ms_entries[0], algorithm="dot")
    with pytest.raises(ValueError, match="empty"):
        ms.search(np.array([]), np.array([]), algorithm="cosine")
    with pytest.raises(ValueError, match="no overlap"):
        ir.search(np.array([100.0, 200.0, 300.0]), np.array([1.0, 2.0, 1.0]), algorithm="hqi")
    with pytest.raises(ValueError, match="no overlap"):
        ir.search(*ir_entries[0], algorithm="hqi", mask=[(0, 5000)])
    with pytest.raises(ValueError, match="NaN"):
        ir.search(ir_entries[0][0], np.full(1801, np.nan), algorithm="hqi")
    with pytest.raises(ValueError, match="spectral libraries"):
        ms.search(*ms_entries[0], algorithm="cosine", mask=[(10, 20)])
    with pytest.raises(ValueError, match="top"):
        ms.search(*ms_entries[0], algorithm="cosine", top=0)


def test_reopen_and_rebuild(tmp_path):
    rng = np.random.default_rng(SEED + 7)
    entries = ei_library(rng, 50)
    directory = tmp_path / "library"
    build_index(entries, "ms", directory)
    first = open_index(directory).search(*entries[4], algorithm="nist_identity")
    assert open_index(directory) is open_index(directory)  # cached per process
    again = open_index(directory)
    assert again.search(*entries[4], algorithm="nist_identity") == first
    # A rebuild replaces the directory atomically and the next open sees the new library.
    build_index(entries[:10], "ms", directory)
    assert open_index(directory).size == 10
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no leftovers
    with pytest.raises(ValueError, match="entry 1"):
        build_index([entries[0], (np.array([1.0]), np.array([1.0, 2.0]))], "ms", directory)
    assert open_index(directory).size == 10  # a failed build leaves the old index in place


def corpus_msp_files():
    return sorted(path.name for path in (CORPUS / "msp").glob("*.msp")) or ["(corpus absent)"]


@pytest.mark.parametrize("name", corpus_msp_files())
@pytest.mark.parametrize("algorithm", ["cosine", "nist_identity"])
def test_every_corpus_msp_record_finds_itself_first(tmp_path, name, algorithm):
    data = corpus_bytes(f"msp/{name}")
    spectra = parse(data, name).spectra
    entries = [(s.x, s.y) for s in spectra]
    build_index(entries, "ms", tmp_path / "index")
    index = open_index(tmp_path / "index")
    for position, (x, y) in enumerate(entries):
        hits = index.search(x, y, algorithm=algorithm, top=len(entries))
        own = next(h for h in hits if h.position == position)
        assert own.raw == pytest.approx(1.0 if algorithm == "cosine" else 999.5, abs=1e-12)
        # Another record can tie with the record itself (a duplicate spectrum, or for NIST
        # a library spectrum whose extra peaks all lie below the query's lowest m/z): the top
        # hit must then carry the same score, and the record must be among the tied hits.
        assert hits[0].raw == pytest.approx(own.raw, abs=1e-12)
        tied = [h.position for h in hits if h.raw >= own.raw - 1e-12]
        assert position in tied
        if len(tied) == 1:
            assert hits[0].position == position
