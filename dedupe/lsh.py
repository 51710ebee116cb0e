"""Compact, bulk machinery behind index.LongIndex: band keys, band tables, leader shingle sets.

Why this exists: a band table made of Python dicts costs ~150 bytes and two dict operations per
(leader, band), so a corpus of a million long units needs gigabytes and spends most of the
decide phase in dict calls. Here:

* ``band_keys_into`` computes the 64-bit band keys with a numba kernel (same values as the
  numpy formula in ``index.band_keys``);
* ``BandTable`` is an open-addressing hash table over (band, key) -> leader row: the
  leaders' band keys once by row (8 bytes a band) and slots of a row and a one-byte tag (5
  bytes), inserted and probed by numba kernels, many keys per call;
* ``SetStore`` keeps the leaders' shingle sets (4 bytes a shingle) in memory up to a budget
  and in an anonymous temporary file beyond it, so memory grows with the number of leaders,
  not with the text. Spilled sets are read in place through a memory map of the file (its
  pages are the OS's page cache: resident, but reclaimable).

Candidates are exactly the per-band-table candidates: two items are candidates when they have
the same key in the same band.
"""

from __future__ import annotations

import os
import tempfile
from typing import IO

import numpy as np
from numpy.typing import NDArray

from dedupe import fingerprint as _fp

_MIX = np.uint64(0x9E3779B97F4A7C15)
_MIX2 = np.uint64(0xBF58476D1CE4E5B9)
_S31 = np.uint64(31)

U64Array = NDArray[np.uint64]
I64Array = NDArray[np.int64]


def use_numba() -> bool:
    """The numba kernels are used exactly when fingerprint's are (tests flip one switch)."""
    return bool(_fp.USE_NUMBA)


# --- band keys -------------------------------------------------------------------------------


@_fp._jit
def _band_keys_kernel(sig: NDArray[np.uint32], bands: int, rows: int, out: U64Array) -> None:
    for i in range(sig.shape[0]):
        for band in range(bands):
            h = np.uint64(band + 1) * _MIX
            for col in range(band * rows, (band + 1) * rows):
                h ^= np.uint64(sig[i, col])
                h *= _MIX2
                h ^= h >> _S31
            out[i, band] = h


def band_keys_into(signatures: np.ndarray, bands: int, rows: int) -> U64Array | None:
    """Band keys by the numba kernel, or None when it does not apply (numba off, other dtype)."""
    if not use_numba() or signatures.dtype != np.uint32 or signatures.ndim != 2:
        return None
    sig = np.ascontiguousarray(signatures)
    out = np.empty((sig.shape[0], bands), dtype=np.uint64)
    _band_keys_kernel(sig, bands, rows, out)
    return out


# --- the band table --------------------------------------------------------------------------


@_fp._jit
def _home(key: np.uint64, capacity: int) -> np.int64:
    """A key's home slot: its high 32 bits scaled to the capacity (any capacity, no modulo)."""
    return np.int64(((key >> np.uint64(32)) * np.uint64(capacity)) >> np.uint64(32))


@_fp._jit
def _insert_kernel(slot_row: NDArray[np.int32], slot_tag: NDArray[np.uint8],
                   keys: U64Array, rows: I64Array) -> None:
    """Each (key, row) into the first free slot from the key's home (linear probing)."""
    capacity = slot_row.size
    for i in range(keys.size):
        key = keys[i]
        pos = _home(key, capacity)
        while slot_row[pos] >= 0:
            pos += 1
            if pos == capacity:
                pos = np.int64(0)
        slot_row[pos] = rows[i]
        slot_tag[pos] = np.uint8(key & np.uint64(0xFF))


@_fp._jit
def _probe_distinct_kernel(
    slot_row: NDArray[np.int32], slot_tag: NDArray[np.uint8], row_keys: U64Array,
    keys: U64Array, seen: I64Array, stamp: int, out_item: I64Array, out_row: I64Array,
) -> int:
    """(item, leader row) for every key hit, each pair once; returns the count (> out size:
    call again). A slot whose tag matches sends the probe to the leader's own key in that
    band (``row_keys``), the only read outside the slots. ``seen[row] == stamp + item`` marks
    a row already found for that item (stamps are never reused, so ``seen`` is never
    cleared)."""
    capacity = slot_row.size
    n = 0
    cap = out_item.size
    for i in range(keys.shape[0]):
        mark = stamp + i
        for band in range(keys.shape[1]):
            key = keys[i, band]
            tag = np.uint8(key & np.uint64(0xFF))
            pos = _home(key, capacity)
            while slot_row[pos] >= 0:
                if slot_tag[pos] == tag:
                    row = slot_row[pos]
                    if row_keys[row, band] == key and seen[row] != mark:
                        seen[row] = mark
                        if n < cap:
                            out_item[n] = i
                            out_row[n] = row
                        n += 1
                pos += 1
                if pos == capacity:
                    pos = np.int64(0)
    return n


def _home_py(key: int, capacity: int) -> int:
    return ((key >> 32) * capacity) >> 32


def _insert_numpy(slot_row: NDArray[np.int32], slot_tag: NDArray[np.uint8],
                  keys: U64Array, rows: I64Array) -> None:
    capacity = slot_row.size
    for key, row in zip(keys.tolist(), rows.tolist(), strict=True):
        pos = _home_py(key, capacity)
        while slot_row[pos] >= 0:
            pos = (pos + 1) % capacity
        slot_row[pos] = row
        slot_tag[pos] = key & 0xFF


def _probe_numpy(slot_row: NDArray[np.int32], row_keys: U64Array, keys: U64Array
                 ) -> tuple[I64Array, I64Array]:
    """Every (item, row) hit, repeats and all, by the plain loop (no tags: every slot's row
    is checked against the key)."""
    capacity = slot_row.size
    items: list[int] = []
    found: list[int] = []
    for i in range(keys.shape[0]):
        for band, key in enumerate(keys[i].tolist()):
            pos = _home_py(key, capacity)
            while slot_row[pos] >= 0:
                row = int(slot_row[pos])
                if int(row_keys[row, band]) == key:
                    items.append(i)
                    found.append(row)
                pos = (pos + 1) % capacity
    return np.array(items, dtype=np.int64), np.array(found, dtype=np.int64)


_NO_ROWS = np.zeros(0, dtype=np.int32)
_NO_TAGS = np.zeros(0, dtype=np.uint8)


class BandTable:
    """(band, key) -> rows of the leaders that have that key in that band.

    The leaders' band keys are kept once, by row (``_row_keys``, 8 bytes a band). The hash
    table's slots hold a leader's row (4 bytes) and one byte of the key as a tag: a probe
    reads the leader's own key in the probed band only when the tag matches (1 in 256 slots
    otherwise), and a hit is a leader whose key in that band equals the probed key, which is
    the definition of a candidate. Open addressing with linear probing, from a home slot
    that scales the key to any capacity; kept between 55% and 80% full. A key shared by
    several leaders occupies several slots. Growing re-inserts from the row keys, so the old
    slots are freed before the new ones are made.
    """

    _MIN_CAPACITY = 1 << 10
    _MAX_LOAD = 0.8
    _GROWN_LOAD = 0.55

    def __init__(self) -> None:
        self.bands = 0
        self._used = 0
        self._rows = 0  # leaders inserted: rows 0 .. _rows - 1 of _row_keys
        self._alloc(self._MIN_CAPACITY)
        self._row_keys: U64Array = np.zeros((0, 0), dtype=np.uint64)
        self._seen = np.full(1024, -1, dtype=np.int64)  # probe_distinct's marks, by row
        self._stamp = 0

    def _alloc(self, capacity: int) -> None:
        if capacity >= 1 << 31:  # rows are int32, and _home scales 32-bit keys to the capacity
            raise MemoryError(f"band table of {capacity:,} slots: beyond this engine's limit "
                              f"(2^31); use --engine spark for a corpus this large")
        self._slot_row = np.full(capacity, -1, dtype=np.int32)
        self._slot_tag = np.zeros(capacity, dtype=np.uint8)

    @property
    def nbytes(self) -> int:
        return int(self._slot_row.nbytes + self._slot_tag.nbytes
                   + self._row_keys[: self._rows].nbytes)

    def _insert(self, keys: U64Array, rows: I64Array) -> None:
        if use_numba():
            _insert_kernel(self._slot_row, self._slot_tag, keys, rows)
        else:
            _insert_numpy(self._slot_row, self._slot_tag, keys, rows)

    def _grow_for(self, extra: int) -> None:
        need = self._used + extra
        if need <= self._MAX_LOAD * self._slot_row.size:
            return
        self._slot_row, self._slot_tag = _NO_ROWS, _NO_TAGS  # the old slots go first
        self._alloc(max(self._MIN_CAPACITY, int(need / self._GROWN_LOAD)))
        if self._rows:
            self._insert(self._row_keys[: self._rows].reshape(-1),
                         np.repeat(np.arange(self._rows, dtype=np.int64), self.bands))

    def _store_rows(self, keys: U64Array) -> None:
        """The new leaders' keys, by row, after the others'."""
        n = keys.shape[0]
        top = self._rows + n
        if top > self._row_keys.shape[0]:
            grown = np.empty((max(top, self._row_keys.shape[0] * 3 // 2, 1024), self.bands),
                             dtype=np.uint64)
            grown[: self._rows] = self._row_keys[: self._rows]
            self._row_keys = grown
        self._row_keys[self._rows : top] = keys
        self._rows = top
        if top > self._seen.size:
            seen = np.full(max(top, 2 * self._seen.size), -1, dtype=np.int64)
            seen[: self._seen.size] = self._seen
            self._seen = seen

    def insert(self, keys: U64Array, rows: I64Array) -> None:
        """Add leaders: keys shape (n, bands); rows shape (n,), the next n rows in order (the
        table keeps the keys by row)."""
        n = keys.shape[0]
        if n == 0:
            return
        keys = np.ascontiguousarray(keys, dtype=np.uint64)
        rows = np.asarray(rows, dtype=np.int64)
        if not np.array_equal(rows, np.arange(self._rows, self._rows + n)):
            raise ValueError(f"BandTable.insert: rows must be {self._rows}..{self._rows + n - 1}")
        if not self.bands:
            self.bands = keys.shape[1]
            self._row_keys = np.empty((0, self.bands), dtype=np.uint64)
        self._grow_for(n * self.bands)  # (re-inserts the rows so far: before the new ones)
        self._store_rows(keys)
        self._insert(keys.reshape(-1), np.repeat(rows, self.bands))
        self._used += n * self.bands

    def probe_distinct(self, keys: U64Array) -> tuple[I64Array, I64Array]:
        """Every (query index, leader row) pair with a shared (band, key), each once, grouped
        by query index (rows in the order found): what a lookup needs, without sorting the
        hits of all bands to drop the repeats."""
        keys = np.ascontiguousarray(keys, dtype=np.uint64)
        if not self._used or keys.shape[0] == 0:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty
        if not use_numba():
            items, rows = _probe_numpy(self._slot_row, self._row_keys, keys)
            pairs = np.unique((items << 32) | rows)
            return pairs >> 32, pairs & 0xFFFFFFFF
        size = max(16, keys.shape[0] * 4)
        while True:
            items = np.empty(size, dtype=np.int64)
            rows = np.empty(size, dtype=np.int64)
            n = _probe_distinct_kernel(self._slot_row, self._slot_tag, self._row_keys, keys,
                                       self._seen, self._stamp, items, rows)
            self._stamp += keys.shape[0]
            if n <= size:
                return items[:n], rows[:n]
            size = n

    def probe(self, keys: U64Array) -> tuple[I64Array, I64Array]:
        """Every (query index, leader row) pair with a shared (band, key), repeats and all,
        by the plain loop: the reference ``probe_distinct`` is tested against."""
        keys = np.ascontiguousarray(keys, dtype=np.uint64)
        if not self._used or keys.shape[0] == 0:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty
        return _probe_numpy(self._slot_row, self._row_keys, keys)


# --- leader shingle sets -----------------------------------------------------------------------


class SetStore:
    """Shingle sets (sorted unique uint32 arrays) by row, appended in row order.

    Held in memory until ``memory_budget`` bytes, then written to an anonymous temporary file
    (deleted by the OS when closed or when the process ends) in blocks of ``block`` bytes;
    spilled sets are read through a memory map of that file, so a lookup's Jaccards are
    computed in place whether the sets are in memory or not (``jaccard``), and the OS page
    cache does the caching: the pages read count towards the process's resident set as file
    pages, which the OS reclaims under memory pressure. Appends are collected and copied in
    batches (one small copy per set costs more than the set).
    """

    def __init__(self, memory_budget: int = 32 << 20, block: int = 4 << 20,
                 batch: int = 1024) -> None:
        self.memory_budget = memory_budget
        self.batch = batch
        self.block = block
        self._offsets = np.zeros(1024, dtype=np.int64)  # element offset of each set's start
        self._committed = 0  # rows whose data is in _mem or the file
        self._pending: list[np.ndarray] = []  # the sets of the next rows, not yet copied
        self._mem = np.empty(1024, dtype=np.uint32)  # committed sets not yet in the file
        self._mem_start = 0  # element offset of _mem[0]
        self._mem_used = 0
        self._file: IO[bytes] | None = None
        self._map: np.ndarray | None = None  # the file's first _map.size elements, mapped

    def __len__(self) -> int:
        return self._committed + len(self._pending)

    @property
    def spilled(self) -> bool:
        return self._file is not None

    @property
    def nbytes(self) -> int:
        """Memory used (not the temporary file, nor reserved pages not yet written)."""
        pending = sum(int(a.nbytes) for a in self._pending)
        return int(self._offsets.nbytes + 4 * self._mem_used + pending)

    def append(self, values: np.ndarray) -> int:
        """Store one set; returns its row."""
        self._pending.append(values)
        if len(self._pending) >= self.batch:
            self._commit()
        return self._committed + len(self._pending) - 1

    def _commit(self) -> None:
        pending, self._pending = self._pending, []
        if not pending:
            return
        lengths = np.fromiter((a.size for a in pending), dtype=np.int64, count=len(pending))
        data = np.concatenate(pending).astype(np.uint32, copy=False) if lengths.sum() else (
            np.zeros(0, dtype=np.uint32))
        rows = self._committed
        while rows + len(pending) + 1 > self._offsets.size:
            self._offsets = np.concatenate([self._offsets, np.zeros_like(self._offsets)])
        np.cumsum(lengths, out=self._offsets[rows + 1 : rows + len(pending) + 1])
        self._offsets[rows + 1 : rows + len(pending) + 1] += self._offsets[rows]
        self._committed += len(pending)
        n = int(data.size)
        if self._mem_used + n > self._mem.size:
            self._make_room(n)
        self._mem[self._mem_used : self._mem_used + n] = data
        self._mem_used += n

    def _make_room(self, n: int) -> None:
        total = (self._mem_start + self._mem_used) * 4
        if self._file is not None or total + 4 * n > self.memory_budget:
            if self._file is None:
                self._file = tempfile.TemporaryFile(prefix="dedupe-sets-")  # noqa: SIM115
            if self._mem_used:
                self._file.seek(0, os.SEEK_END)
                self._file.write(self._mem[: self._mem_used].tobytes())
                self._file.flush()
                self._mem_start += self._mem_used
                self._mem_used = 0
            size = max(self.block // 4, n)
            if self._mem.size < size or self._mem.size > 2 * size:
                self._mem = np.empty(size, dtype=np.uint32)
            return
        size = max(2 * self._mem.size, self._mem_used + n)
        if size > 1 << 20:  # a big store: reserve the whole budget once (untouched pages cost
            size = max(size, self.memory_budget // 4)  # nothing) instead of copying at 2x
        grown = np.empty(size, dtype=np.uint32)
        grown[: self._mem_used] = self._mem[: self._mem_used]
        self._mem = grown

    def get(self, row: int) -> np.ndarray:
        """The set stored at ``row`` (a view while in memory: use it before the next append)."""
        if row >= self._committed:
            pending = self._pending[row - self._committed]
            return np.asarray(pending, dtype=np.uint32)
        start, end = int(self._offsets[row]), int(self._offsets[row + 1])
        if start >= self._mem_start:
            return self._mem[start - self._mem_start : end - self._mem_start]
        return np.array(self._mapped()[start:end])

    def _mapped(self) -> np.ndarray:
        """The spilled elements (the whole file), memory-mapped; mapped again as it grows."""
        if self._map is None or self._map.size < self._mem_start:
            assert self._file is not None
            self._map = np.memmap(self._file, dtype=np.uint32, mode="r",
                                  shape=(self._mem_start,))
        return self._map

    def sizes(self, rows: np.ndarray) -> np.ndarray:
        """The number of elements of the sets at ``rows``."""
        rows = np.asarray(rows, dtype=np.int64)
        if rows.size and rows.max() >= self._committed:
            self._commit()
        return self._offsets[rows + 1] - self._offsets[rows]

    def jaccard(self, q_data: np.ndarray, q_off: np.ndarray, q_idx: np.ndarray,
                rows: np.ndarray, floor: float = 0.0) -> np.ndarray:
        """Exact Jaccard of query set ``q_idx[k]`` (``q_data``/``q_off``, as ``flatten``
        makes them) and the stored set at ``rows[k]``, for every k (from ``floor`` up: see
        ``jaccard_pairs``). Read in place, in memory or through the map of the file: nothing
        is gathered."""
        rows = np.asarray(rows, dtype=np.int64)
        q_idx = np.asarray(q_idx, dtype=np.int64)
        if rows.size and rows.max() >= self._committed:
            self._commit()
        count = self._committed + 1
        out = np.empty(rows.size, dtype=np.float64)
        spilled = self._offsets[rows] < self._mem_start
        in_mem = ~spilled
        if in_mem.any():  # offsets from the in-memory part's start (spilled rows not read)
            out[in_mem] = jaccard_pairs(q_data, q_off, q_idx[in_mem], self._mem,
                                        self._offsets[:count], rows[in_mem], floor,
                                        b_start=self._mem_start)
        if spilled.any():
            out[spilled] = jaccard_pairs(q_data, q_off, q_idx[spilled], self._mapped(),
                                         self._offsets[:count], rows[spilled], floor)
        return out

    def close(self) -> None:
        self._map = None
        if self._file is not None:
            self._file.close()
            self._file = None


# --- exact Jaccard of many pairs -------------------------------------------------------------


@_fp._jit
def _jaccard_kernel(a_data: NDArray[np.uint32], a_off: I64Array, a_idx: I64Array,
                    b_data: NDArray[np.uint32], b_off: I64Array, b_idx: I64Array,
                    out: NDArray[np.float64], floor: float, b_start: int) -> None:
    for k in range(a_idx.size):
        i, j = a_idx[k], b_idx[k]
        p, pe = a_off[i], a_off[i + 1]
        q, qe = b_off[j] - b_start, b_off[j + 1] - b_start
        na, nb = pe - p, qe - q
        if na == 0 and nb == 0:
            out[k] = 1.0
            continue
        # The intersection a Jaccard of `floor` needs (with a margin for rounding).
        need = floor * (na + nb) / (1.0 + floor) - 1e-9
        inter = 0
        while p < pe and q < qe:  # branch-free merge: the comparisons are unpredictable
            x, y = a_data[p], b_data[q]
            inter += x == y
            p += x <= y
            q += y <= x
            best = inter + min(pe - p, qe - q)
            if best < need:  # cannot reach the floor: say so with an upper bound below it
                inter = best
                break
        out[k] = inter / (na + nb - inter)


def jaccard_pairs(a_data: np.ndarray, a_off: np.ndarray, a_idx: np.ndarray,
                  b_data: np.ndarray, b_off: np.ndarray, b_idx: np.ndarray,
                  floor: float = 0.0, *, b_start: int = 0) -> np.ndarray:
    """Exact Jaccard of set ``a_idx[k]`` of A and set ``b_idx[k]`` of B, for every k.

    Sets are sorted unique uint32 runs of a flat array (set i: ``data[off[i]:off[i + 1]]``;
    B's offsets count from ``b_start``, the element ``b_data[0]`` stands for, so that a store
    that keeps only its newest elements passes its offsets as they are).
    Equal, value for value, to ``fingerprint.jaccard`` on each pair that reaches ``floor``;
    a pair below it gets some value below it (the merge stops once the floor is out of
    reach: callers that only compare with a threshold pass it as the floor).
    """
    out = np.empty(len(a_idx), dtype=np.float64)
    if use_numba():
        _jaccard_kernel(a_data, a_off, np.asarray(a_idx, dtype=np.int64), b_data, b_off,
                        np.asarray(b_idx, dtype=np.int64), out, float(floor), int(b_start))
        return out
    for k, (i, j) in enumerate(zip(a_idx.tolist(), b_idx.tolist(), strict=True)):
        out[k] = _fp.jaccard(a_data[a_off[i] : a_off[i + 1]],
                             b_data[b_off[j] - b_start : b_off[j + 1] - b_start])
    return out


def flatten(sets: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Sets as one flat uint32 array plus offsets (the layout ``jaccard_pairs`` reads)."""
    offsets = np.zeros(len(sets) + 1, dtype=np.int64)
    np.cumsum([s.size for s in sets], out=offsets[1:])
    data = np.concatenate(sets).astype(np.uint32, copy=False) if offsets[-1] else (
        np.zeros(0, dtype=np.uint32))
    return data, offsets
