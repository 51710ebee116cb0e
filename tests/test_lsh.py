"""The compact band table and set store give what per-band dicts and in-memory sets give."""

from __future__ import annotations

from collections.abc import Hashable

import numpy as np
import pytest

from dedupe import fingerprint as fp
from dedupe.fingerprint import jaccard, shingle_sets, signatures
from dedupe.index import LongIndex, Match, band_keys, batch_collisions, lsh_params
from dedupe.lsh import BandTable, SetStore, flatten, jaccard_pairs

PATHS = [False, *([True] if fp.HAVE_NUMBA else [])]


class ReferenceIndex:
    """The dict-of-bands LongIndex the compact one replaced: the semantics to keep."""

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold
        self.tables: list[dict[int, list[Hashable]]] = []
        self.sets: dict[Hashable, np.ndarray] = {}
        self.order: dict[Hashable, int] = {}

    def find(self, keys: np.ndarray, shingles: np.ndarray) -> Match | None:
        seen: set[Hashable] = set()
        for table, key in zip(self.tables, keys.tolist(), strict=False):
            seen.update(table.get(key, ()))
        best: Match | None = None
        best_order = 0
        for leader in seen:
            sim = jaccard(shingles, self.sets[leader])
            if sim < self.threshold:
                continue
            order = self.order[leader]
            if best is None or sim > best.similarity or (
                    sim == best.similarity and order < best_order):
                best, best_order = Match(leader, sim), order
        return best

    def add(self, leader: Hashable, keys: np.ndarray, shingles: np.ndarray) -> None:
        if not self.tables:
            self.tables = [{} for _ in range(len(keys))]
        for table, key in zip(self.tables, keys.tolist(), strict=False):
            table.setdefault(key, []).append(leader)
        self.sets[leader] = shingles
        self.order[leader] = len(self.order)


def _texts(n: int, seed: int) -> list[str]:
    """Sentences with many near copies (one-word edits), so LSH candidates are common."""
    rng = np.random.default_rng(seed)
    words = [f"w{i}" for i in range(40)]
    base = [" ".join(rng.choice(words, size=10)) for _ in range(n // 4)]
    out = []
    for _ in range(n):
        text = base[int(rng.integers(len(base)))].split()
        for _ in range(int(rng.integers(0, 3))):
            text[int(rng.integers(len(text)))] = str(rng.choice(words))
        out.append(" ".join(text))
    return out


@pytest.fixture(params=PATHS, ids=lambda v: "numba" if v else "numpy")
def use_numba(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    saved = fp.USE_NUMBA
    fp.USE_NUMBA = request.param
    yield request.param
    fp.USE_NUMBA = saved


def test_band_keys_kernel_equals_numpy_formula() -> None:
    hashes, offsets = shingle_sets(_texts(300, 1), 5)
    sigs = signatures(hashes, offsets, 128, 1)
    saved = fp.USE_NUMBA
    try:
        fp.USE_NUMBA = False
        plain = band_keys(sigs, 14, 9)
        fp.USE_NUMBA = fp.HAVE_NUMBA
        assert np.array_equal(band_keys(sigs, 14, 9), plain)
    finally:
        fp.USE_NUMBA = saved


@pytest.mark.parametrize("threshold", [0.5, 0.7, 0.9])
def test_long_index_equals_reference(use_numba: bool, threshold: float) -> None:
    texts = _texts(1500, 2)
    hashes, offsets = shingle_sets(texts, 5)
    keys = band_keys(signatures(hashes, offsets, 128, 1), *lsh_params(threshold, 128))
    sets = [hashes[offsets[i] : offsets[i + 1]] for i in range(len(texts))]
    ref = ReferenceIndex(threshold)
    # A tiny memory budget makes the set store spill to its file almost at once.
    fast = LongIndex(threshold, memory_budget=4096)
    fast._sets.batch = 7
    matched = 0
    for i in range(len(texts)):
        expected = ref.find(keys[i], sets[i])
        assert fast.find(keys[i], sets[i]) == expected
        if expected is None:
            ref.add(f"L{i}", keys[i], sets[i])
            fast.add(f"L{i}", keys[i], sets[i])
        else:
            matched += 1
    assert matched > 100 and fast._sets.spilled


def test_find_many_equals_find_without_adds_between(use_numba: bool) -> None:
    texts = _texts(800, 3)
    hashes, offsets = shingle_sets(texts, 5)
    keys = band_keys(signatures(hashes, offsets, 128, 1), *lsh_params(0.7, 128))
    sets = [hashes[offsets[i] : offsets[i + 1]] for i in range(len(texts))]
    index = LongIndex(0.7)
    for i in range(0, 400, 3):
        index.add(i, keys[i], sets[i])
    batch = list(range(400, 800))
    many = index.find_many(keys[batch], [sets[i] for i in batch])
    assert many == [index.find(keys[i], sets[i]) for i in batch]
    assert any(m is not None for m in many)


def test_batch_collisions_flags_later_rows_sharing_a_band_key() -> None:
    keys = np.array([[1, 2, 3], [4, 5, 6], [7, 2, 9], [1, 8, 8], [3, 1, 2]], dtype=np.uint64)
    # row 2 shares band 1 with row 0; row 3 shares band 0 with row 0; row 4 shares nothing
    # in the same band (its values appear in other bands only).
    assert batch_collisions(keys).tolist() == [False, False, True, True, False]


def test_set_store_round_trips_in_memory_and_spilled(use_numba: bool) -> None:
    rng = np.random.default_rng(5)
    sets = [np.unique(rng.integers(0, 2**32, int(rng.integers(0, 300)), dtype=np.uint32))
            for _ in range(500)]
    store = SetStore(memory_budget=20_000, block=8_000, batch=5)
    for i, s in enumerate(sets):
        assert store.append(s) == i
    assert store.spilled and len(store) == len(sets)
    for i in [*range(len(sets)), *range(0, len(sets), 7)]:
        assert np.array_equal(store.get(i), sets[i])
    # Jaccard against stored sets, read in place (spilled and in-memory rows mixed, repeats
    # too): equal to the plain function, pair by pair.
    queries = sets[::50]
    q_data, q_off = flatten(queries)
    q_idx = rng.integers(0, len(queries), 300)
    rows = rng.integers(0, len(sets), 300)
    rows[:100] = 50 * q_idx[:100]  # a third of the pairs: a query against itself
    sims = store.jaccard(q_data, q_off, q_idx, rows)
    assert sims.tolist() == [jaccard(queries[q], sets[r])
                             for q, r in zip(q_idx.tolist(), rows.tolist(), strict=True)]
    assert (sims == 1.0).any() and (sims < 1.0).any()
    store.close()


def test_find_many_with_a_verify_callback_equals_the_loop(use_numba: bool) -> None:
    """The callback decides: the bulk path asks it about the same pairs, in the same order,
    and keeps the same best answer as the one-pair-at-a-time loop."""
    texts = _texts(600, 4)
    hashes, offsets = shingle_sets(texts, 5)
    keys = band_keys(signatures(hashes, offsets, 128, 1), *lsh_params(0.3, 128))
    sets = [hashes[offsets[i] : offsets[i + 1]] for i in range(len(texts))]

    def verify(item: int, leader: Hashable, sim: float) -> float | None:
        # Accept some pairs below the threshold and reject some above, deterministically.
        return None if (item + int(str(leader)[1:])) % 3 == 0 else min(1.0, sim + 0.25)

    index = LongIndex(0.3)
    calls: list[tuple[int, Hashable]] = []

    def recorded(item: int, leader: Hashable, sim: float) -> float | None:
        calls.append((item, leader))
        return verify(item, leader, sim)

    index.verify = recorded
    for i in range(300):
        index.add(f"L{i}", keys[i], sets[i])
    batch = list(range(300, 600))
    many = index.find_many(keys[batch], [sets[i] for i in batch])
    # The loop: every candidate of every item through the callback, best similarity, earliest.
    expected: list[Match | None] = []
    for n, i in enumerate(batch):
        best: Match | None = None
        for row in range(300):
            if not np.any(keys[row] == keys[i]):
                continue
            sim = verify(n, f"L{row}", jaccard(sets[i], sets[row]))
            if sim is not None and (best is None or sim > best.similarity):
                best = Match(f"L{row}", sim)
        expected.append(best)
    assert many == expected
    # Each candidate pair asked once, the pairs of one item together (in no set order).
    assert len(set(calls)) == len(calls)
    assert [c[0] for c in calls] == sorted(c[0] for c in calls)
    assert set(calls) == {(n, f"L{row}") for n, i in enumerate(batch) for row in range(300)
                          if np.any(keys[row] == keys[i])}
    assert sum(m is not None for m in many) > 50


@pytest.mark.parametrize("floor", [0.3, 0.7])
def test_jaccard_with_a_floor_is_exact_from_it_up(use_numba: bool, floor: float) -> None:
    """Pairs at or above the floor get their exact Jaccard; pairs below get a value below."""
    hashes, offsets = shingle_sets(_texts(400, 6), 5)
    rng = np.random.default_rng(2)
    a_idx = rng.integers(0, 400, 3000)
    b_idx = np.where(rng.random(3000) < 0.3, a_idx, rng.integers(0, 400, 3000))
    exact = jaccard_pairs(hashes, offsets, a_idx, hashes, offsets, b_idx)
    floored = jaccard_pairs(hashes, offsets, a_idx, hashes, offsets, b_idx, floor)
    above = exact >= floor
    assert above.any() and (~above).any() and ((exact > 0) & ~above).any()
    assert np.array_equal(floored[above], exact[above])
    assert (floored[~above] < floor).all()


def test_distinct_probe_is_the_probe_without_repeats(use_numba: bool) -> None:
    hashes, offsets = shingle_sets(_texts(500, 7), 5)
    keys = band_keys(signatures(hashes, offsets, 128, 1), *lsh_params(0.3, 128))
    table = BandTable()
    table.insert(keys[:400], np.arange(400))
    for _ in range(2):  # twice: the marks of the first lookup must not hide pairs from the next
        items, rows = table.probe(keys[400:])
        d_items, d_rows = table.probe_distinct(keys[400:])
        expected = np.unique((items << 32) | rows)
        got = (d_items << 32) | d_rows
        assert got.size == expected.size and np.array_equal(np.sort(got), expected)
        assert expected.size > 100


def test_band_table_finds_exactly_the_leaders_sharing_a_key_in_a_band(use_numba: bool) -> None:
    """Against the definition, on keys drawn from a small pool: the same key in several
    bands and leaders, keys equal in their tag byte or in their home slot's bits, and a table
    grown several times on the way (each growth re-inserts from the rows' keys)."""
    rng = np.random.default_rng(9)
    pool = (rng.integers(0, 2**63, 300, dtype=np.int64).astype(np.uint64) & ~np.uint64(0xFF)
            ) | rng.integers(0, 4, 300).astype(np.uint64)  # 4 tags for 300 keys
    pool[:20] = pool[20:40] ^ np.uint64(0xFF00)  # same high bits (home slot), other key
    table = BandTable()
    leaders = pool[rng.integers(0, pool.size, (1200, 6))]
    for start in range(0, 1200, 100):
        table.insert(leaders[start : start + 100], np.arange(start, start + 100))
    queries = pool[rng.integers(0, pool.size, (100, 6))]
    items, rows = table.probe_distinct(queries)
    got = set(zip(items.tolist(), rows.tolist(), strict=True))
    shared = (queries[:, None, :] == leaders[None, :, :]).any(axis=2)
    assert got == set(zip(*np.nonzero(shared), strict=True))
    assert len(got) > 1000
    with pytest.raises(ValueError, match="rows must be"):
        table.insert(leaders[:1], np.array([7]))
