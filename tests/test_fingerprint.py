"""dedupe.fingerprint: bulk shingles and MinHash equal to datasketch, on both back ends."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest
from datasketch import LeanMinHash, MinHash, MinHashLSH
from hypothesis import given
from hypothesis import strategies as st

from dedupe import fingerprint as fp

BACKENDS = [
    pytest.param(True, id="numba", marks=pytest.mark.skipif(not fp.HAVE_NUMBA, reason="no numba")),
    pytest.param(False, id="numpy"),
]

# Characters that break naive implementations: astral emoji (two UTF-16 units), combining
# marks, a ZWJ sequence piece, CJK, NUL and other controls, the largest code point.
TRICKY = [
    "a", "b", "é", "e\u0301", "\u0300", "😀", "👍🏽", "\u200d", "❤", "中文", "\x00", "\t", "\n",
    "\U0010ffff", "\ufeff", "ß", "ﬁ",
]
text_st = st.lists(st.one_of(st.characters(), st.sampled_from(TRICKY)), max_size=30).map("".join)
texts_st = st.lists(text_st, max_size=8)
sig_params = st.sampled_from([(1, 1), (7, 0), (16, 42), (128, 1), (130, 2**32 - 1)])


@contextmanager
def backend(use_numba: bool) -> Iterator[None]:
    """Run the public API on one back end (a context manager, not a fixture: hypothesis)."""
    saved = fp.USE_NUMBA
    fp.USE_NUMBA = use_numba
    try:
        yield
    finally:
        fp.USE_NUMBA = saved


def ref_shingles(text: str, k: int) -> set[str]:
    """The shingle definition, spelled out in plain Python."""
    if not text:
        return set()
    if len(text) < k:
        return {text}
    return {text[i : i + k] for i in range(len(text) - k + 1)}


def datasketch_sig(shingles: set[str], num_perm: int, seed: int) -> np.ndarray:
    m = MinHash(num_perm=num_perm, seed=seed, hashfunc=fp.shingle_hash)
    for s in shingles:
        m.update(s)
    return np.asarray(m.hashvalues)


def as_array(values: set[int]) -> np.ndarray:
    return np.array(sorted(values), dtype=np.uint32)


# --- the shingle hash ---------------------------------------------------------------------------


def test_shingle_hash_is_pinned() -> None:
    # Persisted indexes depend on these values: changing the hash needs a new index format.
    assert fp.shingle_hash("hello") == 3027295915
    assert fp.shingle_hash("a") == 3527236038
    assert fp.shingle_hash("world") == 61942071


@given(text_st)
def test_shingle_hash_range(s: str) -> None:
    assert 0 <= fp.shingle_hash(s) < 2**32


# --- shingle sets -------------------------------------------------------------------------------


@pytest.mark.parametrize("use_numba", BACKENDS)
@given(texts=texts_st, k=st.integers(1, 7))
def test_shingle_sets_match_python_reference(use_numba: bool, texts: list[str], k: int) -> None:
    with backend(use_numba):
        hashes, offsets = fp.shingle_sets(texts, k)
    assert hashes.dtype == np.uint32 and offsets.dtype == np.int64
    assert offsets.shape == (len(texts) + 1,) and offsets[0] == 0 and offsets[-1] == hashes.size
    for i, text in enumerate(texts):
        expected = sorted({fp.shingle_hash(s) for s in ref_shingles(text, k)})
        assert hashes[offsets[i] : offsets[i + 1]].tolist() == expected


@pytest.mark.parametrize("use_numba", BACKENDS)
@given(texts=texts_st, k=st.integers(1, 6))
def test_shingle_sets_batches_do_not_change_results(
    use_numba: bool, texts: list[str], k: int
) -> None:
    with backend(use_numba):
        whole = fp.shingle_sets(texts, k)
        saved = fp._TEXT_CHUNK_CHARS
        fp._TEXT_CHUNK_CHARS = 7  # many small batches, and texts longer than a batch
        try:
            batched = fp.shingle_sets(texts, k)
        finally:
            fp._TEXT_CHUNK_CHARS = saved
    assert np.array_equal(whole[0], batched[0]) and np.array_equal(whole[1], batched[1])


def test_shingles_do_not_cross_texts_and_surrogates_pass() -> None:
    texts = ["abc", "def", "", "\ud800xyz", "x" * 5000]  # lone surrogate; > one hash block
    for use_numba in (False, *((True,) if fp.HAVE_NUMBA else ())):
        with backend(use_numba):
            hashes, offsets = fp.shingle_sets(texts, 3)
        sets = [set(hashes[offsets[i] : offsets[i + 1]].tolist()) for i in range(len(texts))]
        assert sets[0] == {fp.shingle_hash("abc")}
        assert sets[1] == {fp.shingle_hash("def")}
        assert sets[2] == set()
        assert sets[3] == {fp.shingle_hash(s) for s in ("\ud800xy", "xyz")}
        assert sets[4] == {fp.shingle_hash("xxx")}
        assert fp.shingle_hash("cde") not in set(hashes.tolist())


def test_shingle_sets_empty_and_bad_k() -> None:
    hashes, offsets = fp.shingle_sets([], 5)
    assert hashes.size == 0 and offsets.tolist() == [0]
    with pytest.raises(ValueError, match="shingle size"):
        fp.shingle_sets(["abc"], 0)


# --- signatures ---------------------------------------------------------------------------------


@pytest.mark.parametrize("use_numba", BACKENDS)
@given(texts=texts_st, k=st.integers(1, 6), params=sig_params)
def test_signatures_equal_datasketch(
    use_numba: bool, texts: list[str], k: int, params: tuple[int, int]
) -> None:
    num_perm, seed = params
    with backend(use_numba):
        hashes, offsets = fp.shingle_sets(texts, k)
        sigs = fp.signatures(hashes, offsets, num_perm, seed)
    assert sigs.dtype == np.uint32 and sigs.shape == (len(texts), num_perm)
    for i, text in enumerate(texts):
        expected = datasketch_sig(ref_shingles(text, k), num_perm, seed)
        assert np.array_equal(sigs[i], expected), (text, k, num_perm, seed)


def test_empty_set_signature_is_datasketch_empty() -> None:
    sig = fp.signatures(np.zeros(0, np.uint32), np.array([0, 0]), 16, 1)
    assert np.array_equal(sig[0], MinHash(num_perm=16, seed=1).hashvalues)
    assert sig[0].tolist() == [0xFFFFFFFF] * 16


def test_numba_path_equals_numpy_path() -> None:
    if not fp.HAVE_NUMBA:
        pytest.skip("no numba")
    rng = np.random.default_rng(7)
    alphabet = list("abcdefghij klmnop") + TRICKY
    texts = [
        "".join(rng.choice(alphabet, int(n)))
        for n in rng.choice([0, 1, 3, 4, 5, 9, 60, 300, 5000], 1500)
    ]
    results: dict[bool, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    for use_numba in (True, False):
        with backend(use_numba):
            hashes, offsets = fp.shingle_sets(texts, 5)
            results[use_numba] = (hashes, offsets, fp.signatures(hashes, offsets, 128, 3))
    for got, want in zip(results[True], results[False], strict=True):
        assert np.array_equal(got, want)


def test_numpy_signature_batching_paths() -> None:
    """Small-matrix, per-permutation and large-set code paths of the numpy back end agree."""
    rng = np.random.default_rng(3)
    sizes = [0, 1, 3, 0, 500, 4000, 2, 70000, 5]  # a set larger than one batch
    offsets = np.zeros(len(sizes) + 1, np.int64)
    np.cumsum(sizes, out=offsets[1:])
    hashes = rng.integers(0, 2**32, int(offsets[-1]), dtype=np.uint32)
    with backend(False):
        got = fp.signatures(hashes, offsets, 32, 5)
    a, b = fp.permutations(32, 5)
    for i in range(len(sizes)):
        s = fp._fmix32(hashes[offsets[i] : offsets[i + 1]])
        want = (np.multiply.outer(s, a) + b).min(axis=0) if s.size else np.full(32, 2**32 - 1)
        assert np.array_equal(got[i], want)


def test_signatures_accepts_subranges_and_validates() -> None:
    hashes = np.array([5, 1, 9, 7], np.uint32)
    full = fp.signatures(hashes, np.array([0, 2, 4]), 8, 1)
    part = fp.signatures(hashes, np.array([2, 4]), 8, 1)
    assert np.array_equal(full[1], part[0])
    wide = fp.signatures(hashes.astype(np.int64), np.array([0, 2, 4], np.int32), 8, 1)
    assert np.array_equal(full, wide)
    with pytest.raises(ValueError):
        fp.signatures(hashes, np.array([0, 5]), 8, 1)  # past the end
    with pytest.raises(ValueError):
        fp.signatures(hashes, np.array([0, 3, 2]), 8, 1)  # decreasing
    with pytest.raises(ValueError):
        fp.signatures(np.array([-1]), np.array([0, 1]), 8, 1)
    with pytest.raises(ValueError):
        fp.signatures(hashes, np.array([0, 4]), 0, 1)


def test_permutations_come_from_datasketch() -> None:
    a, b = fp.permutations(64, 9)
    ref = MinHash(num_perm=64, seed=9).permutations
    assert np.array_equal(a, ref[0]) and np.array_equal(b, ref[1])
    assert a.dtype == np.uint32 and not a.flags.writeable
    assert fp.permutations(64, 9)[0] is a  # cached


# --- unions -------------------------------------------------------------------------------------


@pytest.mark.parametrize("use_numba", BACKENDS)
@given(texts=texts_st, k=st.integers(1, 6))
def test_union_signature_is_signature_of_union(use_numba: bool, texts: list[str], k: int) -> None:
    with backend(use_numba):
        hashes, offsets = fp.shingle_sets(texts, k)
        sigs = fp.signatures(hashes, offsets, 32, 1)
        union = np.unique(hashes)
        expected = fp.signatures(union, np.array([0, union.size]), 32, 1)[0]
    assert np.array_equal(fp.union_signature(sigs, 32), expected)
    assert np.array_equal(fp.union_signature(sigs) if texts else expected, expected)


def test_union_signature_of_nothing_is_empty_sketch() -> None:
    assert fp.union_signature(np.zeros((0, 16), np.uint32)).tolist() == [0xFFFFFFFF] * 16
    assert fp.union_signature(np.array([]), 8).tolist() == [0xFFFFFFFF] * 8
    with pytest.raises(ValueError):
        fp.union_signature(np.array([]))
    with pytest.raises(ValueError):
        fp.union_signature(np.zeros((2, 16), np.uint32), 8)


# --- exact similarity ---------------------------------------------------------------------------

int_sets = st.sets(st.integers(0, 2**32 - 1) | st.integers(0, 40), max_size=60)


@given(int_sets, int_sets)
def test_jaccard_and_containment_match_set_arithmetic(x: set[int], y: set[int]) -> None:
    a, b = as_array(x), as_array(y)
    assert fp.jaccard(a, b) == (len(x & y) / len(x | y) if x | y else 1.0)
    assert fp.jaccard(a, b) == fp.jaccard(b, a)
    assert fp.containment(a, b) == (len(x & y) / len(x) if x else 0.0)


# --- datasketch interop -------------------------------------------------------------------------


def test_to_minhash_works_in_minhash_lsh() -> None:
    docs = {
        "a": "the city council met on tuesday to discuss the new water treatment plant",
        "b": "the city council met on tuesday to discuss the new water treatment plants",
        "c": "local team wins the championship after a dramatic overtime finish",
    }
    hashes, offsets = fp.shingle_sets(list(docs.values()), 5)
    sigs = fp.signatures(hashes, offsets, 128, 1)
    lsh = MinHashLSH(threshold=0.7, num_perm=128)
    for key, sig in zip(docs, sigs, strict=True):
        lean = fp.to_minhash(sig, 1)
        assert isinstance(lean, LeanMinHash)
        lsh.insert(key, lean)
    assert set(lsh.query(fp.to_minhash(sigs[0], 1))) == {"a", "b"}
    assert lsh.query(fp.to_minhash(sigs[2], 1)) == ["c"]
    # A sketch made by datasketch itself finds the same neighbours in the same index.
    ref = MinHash(num_perm=128, seed=1, hashfunc=fp.shingle_hash)
    for s in ref_shingles(docs["b"], 5):
        ref.update(s)
    assert set(lsh.query(ref)) == {"a", "b"}
    assert fp.to_minhash(sigs[1], 1) == LeanMinHash(ref)
