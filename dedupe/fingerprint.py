"""Shingle sets and MinHash signatures, computed in bulk, equal value for value to datasketch.

Units arrive already normalized. Each becomes a set of character k-gram ("shingle") hashes and
a MinHash signature. The signatures must be exactly the ``hashvalues`` that
``datasketch.MinHash(num_perm, seed, hashfunc=shingle_hash)`` reaches after ``update()`` with
every shingle string, so sketches made here and sketches made through datasketch can share one
``MinHashLSH`` index and one persisted index. datasketch does that one Python call per
shingle, which is far too slow for a corpus; here everything runs over whole arrays.

Two interchangeable back ends compute the same values:

* numba kernels (``@njit(cache=True, nogil=True)``), the fast path, used when numba imports and
  ``NUMBA_DISABLE_JIT`` is not set;
* plain numpy, the fallback, several times slower.

Set ``USE_NUMBA = False`` on this module to force the numpy path (the tests compare the two).

The shingle hash is a polynomial over the code points of the k-gram in uint64 arithmetic
(``h = (h + cp) * M`` per code point, starting from a fixed constant) followed by the 64-bit
MurmurHash3 finalizer; the high 32 bits are the hash. That is cheap to evaluate in bulk and
easy to reproduce exactly in pure Python (:func:`shingle_hash`).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar, cast

import numpy as np
from datasketch import LeanMinHash, MinHash
from numpy.typing import NDArray

try:  # numba is a declared dependency, but the module must still work without it.
    import numba
except ImportError:  # pragma: no cover - exercised only on installs without numba
    numba = None  # type: ignore[assignment]

#: numba imports and is not switched off (NUMBA_DISABLE_JIT=1 would run the kernels as slow
#: pure Python, so the numpy path is used instead).
HAVE_NUMBA: bool = numba is not None and not getattr(numba.config, "DISABLE_JIT", False)

#: Use the numba kernels when available. Tests and benchmarks flip this to compare paths.
USE_NUMBA: bool = HAVE_NUMBA

__all__ = [
    "HAVE_NUMBA",
    "USE_NUMBA",
    "containment",
    "jaccard",
    "permutations",
    "shingle_hash",
    "shingle_sets",
    "signatures",
    "to_minhash",
    "union_signature",
]

# --- constants -----------------------------------------------------------------------------

_MASK64 = (1 << 64) - 1
_MASK32 = (1 << 32) - 1
# Polynomial shingle hash: start value and odd multiplier (64-bit golden ratio).
_H0_INT = 0xCBF29CE484222325
_MUL_INT = 0x9E3779B97F4A7C15
# MurmurHash3 64-bit finalizer multipliers.
_F1_INT = 0xFF51AFD7ED558CCD
_F2_INT = 0xC4CEB9FE1A85EC53

_H0 = np.uint64(_H0_INT)
_MUL = np.uint64(_MUL_INT)
_F1 = np.uint64(_F1_INT)
_F2 = np.uint64(_F2_INT)
_S32 = np.uint64(32)
_S33 = np.uint64(33)
# MurmurHash3 32-bit finalizer, datasketch's pre-mix for the "affine32" scheme.
_M1 = np.uint32(0x85EBCA6B)
_M2 = np.uint32(0xC2B2AE35)
_S13 = np.uint32(13)
_S16 = np.uint32(16)
_EMPTY = np.uint32(_MASK32)  # datasketch's value for "no shingle seen"
_LOW32 = np.uint64(_MASK32)

# Code points per batch of texts: bounds the transient memory of one shingling batch.
_TEXT_CHUNK_CHARS = 1 << 20
# Shingles per batch in the numpy signature path (its temporaries are O(batch)).
_SIG_CHUNK_SHINGLES = 1 << 16
# Below this many shingles the numpy path uses one small 2-D product instead (less overhead).
_SIG_SMALL = 2048

U32Array = NDArray[np.uint32]
I64Array = NDArray[np.int64]
_F = TypeVar("_F", bound=Callable[..., Any])


def _jit(fn: _F) -> _F:
    """Compile with numba when present; otherwise leave the (unused) Python function as is."""
    if numba is None or not HAVE_NUMBA:
        return fn
    return cast(_F, numba.njit(cache=True, nogil=True)(fn))


# --- the shingle hash ----------------------------------------------------------------------


def shingle_hash(shingle: str) -> int:
    """Hash one shingle to an int in [0, 2**32), bit-identical to the bulk path.

    Pass this as ``hashfunc`` to ``datasketch.MinHash`` to get the signatures of
    :func:`signatures`; it is also the reference the bulk hashing is tested against.
    """
    h = _H0_INT
    for ch in shingle:
        h = ((h + ord(ch)) * _MUL_INT) & _MASK64
    h ^= h >> 33
    h = (h * _F1_INT) & _MASK64
    h ^= h >> 33
    h = (h * _F2_INT) & _MASK64
    h ^= h >> 33
    return h >> 32


def _code_points(texts: Sequence[str]) -> NDArray[np.uint32]:
    """All texts' code points, concatenated (``surrogatepass`` keeps lone surrogates as is)."""
    raw = "".join(texts).encode("utf-32-le", "surrogatepass")
    cps = np.frombuffer(raw, dtype="<u4")
    return cps if sys.byteorder == "little" else cps.astype(np.uint32)


def _text_lengths(texts: Sequence[str]) -> I64Array:
    return np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))


def _chunk_bounds(lengths: I64Array, budget: int) -> list[tuple[int, int]]:
    """Split texts into consecutive runs of about ``budget`` code points (at least one text)."""
    n = int(lengths.size)
    if n == 0:
        return []
    ends = np.cumsum(lengths)
    bounds: list[tuple[int, int]] = []
    lo = 0
    while lo < n:
        base = int(ends[lo - 1]) if lo else 0
        hi = int(np.searchsorted(ends, base + budget, side="right"))
        hi = min(max(hi, lo + 1), n)
        bounds.append((lo, hi))
        lo = hi
    return bounds


def _check_k(k: int) -> None:
    if k < 1:
        raise ValueError(f"shingle size k must be at least 1, got {k}")


def shingle_sets(texts: Sequence[str], k: int) -> tuple[U32Array, I64Array]:
    """Sorted unique shingle-hash set of every text, in one flat array plus offsets.

    Shingles are all k-grams of code points; a non-empty text shorter than k is one shingle
    (the whole text); an empty text has none. Shingles never cross text boundaries. Text i's
    set is ``hashes[offsets[i]:offsets[i + 1]]``; flat arrays keep millions of units cheap.
    """
    _check_k(k)
    lengths = _text_lengths(texts)
    offsets = np.empty(len(texts) + 1, dtype=np.int64)
    offsets[0] = 0
    chunk = _shingle_chunk_numba if USE_NUMBA else _shingle_chunk_numpy
    if int(lengths.sum()) <= _TEXT_CHUNK_CHARS:  # the common case: one document's units
        hashes, counts = chunk(_code_points(texts), lengths, k)
        np.cumsum(counts, out=offsets[1:])
        return hashes, offsets
    parts: list[U32Array] = []
    total = 0
    for lo, hi in _chunk_bounds(lengths, _TEXT_CHUNK_CHARS):
        hashes, counts = chunk(_code_points(texts[lo:hi]), lengths[lo:hi], k)
        parts.append(hashes)
        np.cumsum(counts, out=offsets[lo + 1 : hi + 1])
        offsets[lo + 1 : hi + 1] += total
        total += int(hashes.size)
    return np.concatenate(parts), offsets


# --- shingling: numpy path -------------------------------------------------------------------


def _fmix64_inplace(h: NDArray[np.uint64]) -> None:
    h ^= h >> _S33
    h *= _F1
    h ^= h >> _S33
    h *= _F2
    h ^= h >> _S33


def _window_hashes_numpy(cps: NDArray[np.uint32], k: int) -> U32Array:
    """Hash of every k-gram window of ``cps`` (positions 0..len-k), in blocks to bound memory."""
    nwin = int(cps.size) - k + 1
    out = np.empty(max(nwin, 0), dtype=np.uint32)
    block = 1 << 20
    for p0 in range(0, max(nwin, 0), block):
        p1 = min(p0 + block, nwin)
        seg = cps[p0 : p1 + k - 1].astype(np.uint64)
        m = p1 - p0
        h = np.full(m, _H0, dtype=np.uint64)
        for j in range(k):
            h += seg[j : j + m]
            h *= _MUL
        _fmix64_inplace(h)
        h >>= _S32
        out[p0:p1] = h
    return out


def _shingle_chunk_numpy(
    cps: NDArray[np.uint32], lens: I64Array, k: int
) -> tuple[U32Array, I64Array]:
    """Numpy path for one batch: per-text unique sorted hashes and per-text counts."""
    n = int(lens.size)
    starts = np.zeros(n, dtype=np.int64)
    np.cumsum(lens[:-1], out=starts[1:])
    keys: list[NDArray[np.uint64]] = []

    nwin = np.where(lens >= k, lens - (k - 1), 0)
    if nwin.any():
        # A window start p is inside text i's windows unless a text end e has e-k < p < e.
        ends = starts + lens
        cover = np.bincount(np.maximum(ends - (k - 1), 0), minlength=cps.size + 1)
        cover -= np.bincount(ends, minlength=cps.size + 1)
        valid = np.cumsum(cover[: cps.size - k + 1]) == 0
        win = _window_hashes_numpy(cps, k)[valid].astype(np.uint64)
        ids = np.repeat(np.arange(n, dtype=np.uint64), nwin)
        ids <<= _S32
        ids |= win
        keys.append(ids)

    for length in range(1, k):  # a short non-empty text is one shingle: the whole text
        ids_s = np.flatnonzero(lens == length)
        if not ids_s.size:
            continue
        h = np.full(ids_s.size, _H0, dtype=np.uint64)
        s0 = starts[ids_s]
        for j in range(length):
            h += cps[s0 + j]
            h *= _MUL
        _fmix64_inplace(h)
        h >>= _S32
        keys.append((ids_s.astype(np.uint64) << _S32) | h)

    if not keys:
        return np.zeros(0, dtype=np.uint32), np.zeros(n, dtype=np.int64)
    allkeys = np.concatenate(keys) if len(keys) > 1 else keys[0]
    allkeys.sort()  # by (text, hash); np.unique would be much slower (hash-based in numpy 2)
    if allkeys.size > 1:
        keep = np.empty(allkeys.size, dtype=bool)
        keep[0] = True
        np.not_equal(allkeys[1:], allkeys[:-1], out=keep[1:])
        allkeys = allkeys[keep]
    counts = np.bincount((allkeys >> _S32).astype(np.int64), minlength=n).astype(np.int64)
    return (allkeys & _LOW32).astype(np.uint32), counts


# --- shingling: numba path -------------------------------------------------------------------

_BLOCK = 2048  # windows hashed together in the numba kernel (fits L1 as uint64)


@_jit
def _window_keys_kernel(
    cps: NDArray[np.uint32], lens: I64Array, k: int, keys: NDArray[np.uint64]
) -> int:
    """Fill keys with (text index << 32 | shingle hash) for every shingle, text by text.

    The loops over windows are written position-parallel so that LLVM vectorizes them.
    """
    buf = np.empty(_BLOCK, dtype=np.uint64)
    pos = 0
    start = 0
    for i in range(lens.size):
        length = lens[i]
        tag = np.uint64(i) << _S32
        if length >= k:
            m = length - k + 1
            for b0 in range(0, m, _BLOCK):
                bl = min(_BLOCK, m - b0)
                base = start + b0
                for p in range(bl):
                    buf[p] = _H0
                for j in range(k):
                    for p in range(bl):
                        buf[p] = (buf[p] + np.uint64(cps[base + j + p])) * _MUL
                for p in range(bl):
                    h = buf[p]
                    h ^= h >> _S33
                    h *= _F1
                    h ^= h >> _S33
                    h *= _F2
                    h ^= h >> _S33
                    keys[pos + b0 + p] = tag | (h >> _S32)
            pos += m
        elif length > 0:
            h = _H0
            for j in range(start, start + length):
                h = (h + np.uint64(cps[j])) * _MUL
            h ^= h >> _S33
            h *= _F1
            h ^= h >> _S33
            h *= _F2
            h ^= h >> _S33
            keys[pos] = tag | (h >> _S32)
            pos += 1
        start += length
    return pos


@_jit
def _unique_keys_kernel(keys: NDArray[np.uint64], out: U32Array, counts: I64Array) -> int:
    """Drop repeated keys from sorted keys; write the hashes and count them per text."""
    counts[:] = 0
    kept = 0
    for r in range(keys.size):
        key = keys[r]
        if r == 0 or key != keys[r - 1]:
            out[kept] = np.uint32(key & _LOW32)
            counts[np.int64(key >> _S32)] += 1
            kept += 1
    return kept


def _shingle_chunk_numba(
    cps: NDArray[np.uint32], lens: I64Array, k: int
) -> tuple[U32Array, I64Array]:
    # A text of L code points has at most L shingles, so len(cps) bounds the count.
    keys = np.empty(cps.size, dtype=np.uint64)
    used = _window_keys_kernel(cps, lens, k, keys)
    keys = keys[:used]
    keys.sort()  # numpy's SIMD sort beats sorting each text inside the kernel
    out = np.empty(used, dtype=np.uint32)
    counts = np.empty(lens.size, dtype=np.int64)
    kept = _unique_keys_kernel(keys, out, counts)
    return (out if kept == used else out[:kept].copy()), counts


# --- permutations and signatures -------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def permutations(num_perm: int, seed: int) -> tuple[U32Array, U32Array]:
    """datasketch's affine32 ``(a, b)`` for this num_perm and seed, taken from datasketch itself.

    Cached and read-only: deriving them again would risk drifting from datasketch.
    """
    perm = MinHash(num_perm=num_perm, seed=seed, scheme="affine32").permutations
    a = np.ascontiguousarray(perm[0], dtype=np.uint32)
    b = np.ascontiguousarray(perm[1], dtype=np.uint32)
    a.setflags(write=False)
    b.setflags(write=False)
    return a, b


def _check_sets(hashes: np.ndarray, offsets: np.ndarray) -> tuple[U32Array, I64Array]:
    """Validate (hashes, offsets) so the unchecked kernels can never index out of bounds."""
    if hashes.ndim != 1 or offsets.ndim != 1:
        raise ValueError("hashes and offsets must be one-dimensional")
    if offsets.size == 0:
        raise ValueError("offsets must have at least one element (len(sets) + 1)")
    if hashes.dtype != np.uint32:
        if hashes.dtype.kind not in "ui":
            raise ValueError(f"hashes must be uint32 values, got dtype {hashes.dtype}")
        converted = hashes.astype(np.uint32)
        if not np.array_equal(converted, hashes):
            raise ValueError("hashes must be uint32 values, got values outside [0, 2**32)")
        hashes = converted
    if offsets.dtype.kind not in "ui":
        raise ValueError(f"offsets must be integers, got dtype {offsets.dtype}")
    offs = np.ascontiguousarray(offsets, dtype=np.int64)
    if offs[0] < 0 or offs[-1] > hashes.size or np.any(offs[1:] < offs[:-1]):
        raise ValueError("offsets must be non-decreasing and within hashes")
    return np.ascontiguousarray(hashes), offs


def signatures(hashes: np.ndarray, offsets: np.ndarray, num_perm: int, seed: int) -> U32Array:
    """MinHash signature of every set, shape (n, num_perm), uint32.

    Row i equals the ``hashvalues`` of ``datasketch.MinHash(num_perm, seed,
    hashfunc=shingle_hash)`` (scheme "affine32") updated with set i's shingles, so the rows can
    go straight into a datasketch LSH index. An empty set gives all 0xFFFFFFFF, as datasketch.
    """
    if num_perm < 1:
        raise ValueError(f"num_perm must be at least 1, got {num_perm}")
    hv, offs = _check_sets(hashes, offsets)
    a, b = permutations(num_perm, seed)
    out = np.empty((offs.size - 1, num_perm), dtype=np.uint32)
    if USE_NUMBA:
        _signature_kernel(hv, offs, a, b, out)
    else:
        _signatures_numpy(hv, offs, a, b, out)
    return out


def _fmix32(h: U32Array) -> U32Array:
    h = h ^ (h >> _S16)
    h = h * _M1
    h = h ^ (h >> _S13)
    h = h * _M2
    return h ^ (h >> _S16)


def _signatures_numpy(
    hashes: U32Array, offsets: I64Array, a: U32Array, b: U32Array, out: U32Array
) -> None:
    """One pass per permutation over batches of sets, min per set with ``minimum.reduceat``."""
    out.fill(_EMPTY)
    n = offsets.size - 1
    lo = 0
    while lo < n:
        hi = int(np.searchsorted(offsets, offsets[lo] + _SIG_CHUNK_SHINGLES, side="right")) - 1
        hi = min(max(hi, lo + 1), n)
        sub = offsets[lo : hi + 1]
        rows = np.flatnonzero(sub[1:] > sub[:-1])
        if rows.size:
            # reduceat over non-empty sets only: each segment then ends where the next begins.
            hv = _fmix32(hashes[sub[0] : sub[-1]])
            starts = sub[rows] - sub[0]
            rows += lo
            if hv.size <= _SIG_SMALL:  # few shingles: one (shingles, num_perm) matrix
                prod = np.multiply.outer(hv, a)
                prod += b
                out[rows] = np.minimum.reduceat(prod, starts, axis=0)
            else:  # one pass per permutation keeps the temporaries O(batch)
                tmp = np.empty_like(hv)
                for p in range(a.size):
                    np.multiply(hv, a[p], out=tmp)
                    np.add(tmp, b[p], out=tmp)
                    out[rows, p] = np.minimum.reduceat(tmp, starts)
        lo = hi


@_jit
def _fmix32_scalar(h: np.uint32) -> np.uint32:
    h = h ^ (h >> _S16)
    h = np.uint32(h * _M1)
    h = h ^ (h >> _S13)
    h = np.uint32(h * _M2)
    return np.uint32(h ^ (h >> _S16))


@_jit
def _signature_kernel(
    hashes: U32Array, offsets: I64Array, a: U32Array, b: U32Array, out: U32Array
) -> None:
    # Four shingles per pass over the permutations: the row minimum stays in registers while
    # four products are folded in; the loop over permutations vectorizes (mul, add, min).
    num_perm = a.size
    row = np.empty(num_perm, dtype=np.uint32)
    for i in range(offsets.size - 1):
        row[:] = _EMPTY
        j = offsets[i]
        end = offsets[i + 1]
        while j + 4 <= end:
            h0 = _fmix32_scalar(hashes[j])
            h1 = _fmix32_scalar(hashes[j + 1])
            h2 = _fmix32_scalar(hashes[j + 2])
            h3 = _fmix32_scalar(hashes[j + 3])
            for p in range(num_perm):
                ap = a[p]
                bp = b[p]
                v0 = np.uint32(ap * h0 + bp)
                v1 = np.uint32(ap * h1 + bp)
                v2 = np.uint32(ap * h2 + bp)
                v3 = np.uint32(ap * h3 + bp)
                row[p] = min(row[p], min(min(v0, v1), min(v2, v3)))
            j += 4
        while j < end:
            h0 = _fmix32_scalar(hashes[j])
            for p in range(num_perm):
                row[p] = min(row[p], np.uint32(a[p] * h0 + b[p]))
            j += 1
        out[i, :] = row


# --- sketches of unions, exact set similarity, datasketch interop ------------------------------


def union_signature(sigs: np.ndarray, num_perm: int | None = None) -> U32Array:
    """Element-wise minimum of signature rows: the MinHash of the union of their sets.

    Lets a document's sketch be built from its units' sketches without re-hashing. With no rows
    the result is the empty sketch (all 0xFFFFFFFF); its width comes from ``sigs.shape[1]`` or,
    for a shapeless empty input, from ``num_perm``.
    """
    arr = np.asarray(sigs)
    if arr.ndim == 1 and arr.size == 0:
        arr = arr.reshape(0, num_perm if num_perm is not None else 0)
    if arr.ndim != 2:
        raise ValueError(f"sigs must be a 2-D array of signature rows, got shape {arr.shape}")
    width = arr.shape[1]
    if num_perm is not None and width != num_perm:
        raise ValueError(f"signatures have {width} values, expected num_perm={num_perm}")
    if width == 0:
        raise ValueError("cannot tell num_perm of an empty input: pass num_perm")
    if arr.shape[0] == 0:
        return np.full(width, _EMPTY, dtype=np.uint32)
    return np.asarray(arr.min(axis=0), dtype=np.uint32)


def _intersection_size(a: U32Array, b: U32Array) -> int:
    """|a ∩ b| for sorted unique arrays, by binary search of the smaller in the larger."""
    if a.size == 0 or b.size == 0:
        return 0
    small, large = (a, b) if a.size <= b.size else (b, a)
    idx = np.searchsorted(large, small)
    np.minimum(idx, large.size - 1, out=idx)
    return int(np.count_nonzero(large[idx] == small))


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Exact Jaccard of two sorted unique hash sets (both empty -> 1.0).

    Used to confirm LSH candidates, whose signature agreement is only an estimate.
    """
    if a.size == 0 and b.size == 0:
        return 1.0
    inter = _intersection_size(a, b)
    return inter / (int(a.size) + int(b.size) - inter)


def containment(a: np.ndarray, b: np.ndarray) -> float:
    """|a ∩ b| / |a| for sorted unique hash sets (0.0 when a is empty): how much of a is in b."""
    if a.size == 0:
        return 0.0
    return _intersection_size(a, b) / int(a.size)


def to_minhash(sig: np.ndarray, seed: int) -> LeanMinHash:
    """Wrap a signature row as a datasketch LeanMinHash, for MinHashLSH insert and query."""
    return LeanMinHash(seed=seed, hashvalues=np.asarray(sig, dtype=np.uint32), scheme="affine32")
