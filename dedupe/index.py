"""Candidate search and verification: who might be a copy of whom, and is it really.

Long units and documents: MinHash LSH band keys (datasketch's own band parameters, computed in
bulk with numpy) propose candidates; the true Jaccard of the shingle sets decides. Short units:
an exact-key table, then edit similarity (rapidfuzz) over a blocked candidate list. Exact
repeats, the commonest case in scraped text, never reach the LSH at all.

The clustering is keep-first "leader" clustering: an item joins the most similar earlier
leader (ties: the earliest) or becomes a leader itself. No chains: an item is only ever compared
with leaders, so A~B and B~C never pull C towards A.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from datasketch.lsh import _optimal_param
from rapidfuzz import fuzz
from rapidfuzz import process as rf_process

from dedupe.lsh import BandTable, SetStore, band_keys_into, flatten

_MIX = np.uint64(0x9E3779B97F4A7C15)
_MIX2 = np.uint64(0xBF58476D1CE4E5B9)
_BAND_TAG = np.uint64(0xA0761D6478BD642F)


@lru_cache(maxsize=64)
def lsh_params(threshold: float, num_perm: int) -> tuple[int, int]:
    """(bands, rows) exactly as datasketch's MinHashLSH picks them for this threshold."""
    b, r = _optimal_param(threshold, num_perm, 0.5, 0.5)
    return int(b), int(r)


def band_keys(signatures: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """One 64-bit key per band and signature row, shape (n, bands).

    Two signatures share a key exactly when their band of `rows` values is equal (up to a
    2**-64 collision chance, which verification makes harmless): the same candidates that
    MinHashLSH's band hash tables would give, without one Python call per key.
    """
    fast = band_keys_into(signatures, bands, rows)  # the same formula, compiled
    if fast is not None:
        return fast
    sig = np.ascontiguousarray(signatures, dtype=np.uint64)
    n = sig.shape[0]
    keys = np.empty((n, bands), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for band in range(bands):
            h = np.full(n, np.uint64(band + 1) * _MIX, dtype=np.uint64)
            for col in range(band * rows, (band + 1) * rows):
                h ^= sig[:, col]
                h *= _MIX2
                h ^= h >> np.uint64(31)
            keys[:, band] = h
    return keys


@dataclass(frozen=True)
class Match:
    leader: Hashable
    similarity: float


_NO_SET = np.zeros(0, dtype=np.uint32)


class LongIndex:
    """Leaders of long units (or documents): band tables plus their shingle sets.

    Compact and bulk (dedupe.lsh): one numpy hash table over (band, key) -> leader row, and
    the leaders' shingle sets in a store that moves to a temporary file beyond
    ``memory_budget`` bytes. Rows are the order of ``add``; the tie-break is that order.
    """

    #: Leaders added since the last flush are compared directly (no table) until there are
    #: this many: a small index (one document's units) never builds a table at all.
    _RECENT = 64

    def __init__(self, threshold: float, *, memory_budget: int = 32 << 20) -> None:
        self.threshold = threshold
        self._leaders: list[Hashable] = []
        #: The same leaders as an object array: a lookup's candidates in one indexing step.
        self._leader_array = np.empty(64, dtype=object)
        self._table = BandTable()
        self._sets = SetStore(memory_budget)
        self._recent: np.ndarray | None = None  # band keys of the last leaders, not in the table
        self._n_recent = 0
        #: Optional verification (dedupe.verify): called as verify(item, leader, jaccard) for
        #: every candidate, it returns the pair's similarity or None to reject it, and then
        #: replaces the Jaccard threshold (the caller knows the items' and leaders' texts).
        #: Called once per pair, an item's pairs together, in no set order: its answer must
        #: not depend on the order.
        self.verify: Callable[[int, Hashable, float], float | None] | None = None
        #: The same for all candidates of a lookup at once (preferred when set): called with
        #: the items, the leaders and the Jaccards of every candidate pair, it returns each
        #: pair's similarity, NaN to reject it.
        self.verify_many: Callable[[np.ndarray, Sequence[Hashable] | np.ndarray, np.ndarray],
                                   np.ndarray] | None = None
        #: Optional, with a verification: which candidate pairs could pass it at all, told
        #: from cheap facts before any set is read or Jaccard computed. Called with the items,
        #: the leaders, and both sides' set sizes; returns a mask. A pair it rejects must be
        #: one the verification would reject.
        self.admit: Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
                             np.ndarray] | None = None
        #: False when the verification never reads the Jaccard it is given: the sets are then
        #: not read at all and every pair goes to it with NaN.
        self.verify_reads_jaccard = True
        #: False: the leaders' shingle sets are not kept (each row holds an empty one), for a
        #: verification that reads no Jaccard and no ``admit``: a run's document index
        #: without a persistent index (~12 KB a document less, written to disk beyond the
        #: budget). Set before the first ``add``.
        self.keep_sets = True
        #: Jaccards below this are compared, never read, by the verification: computed only
        #: as "below" (the merge of two sets stops once it is out of reach). 0: all exact.
        self.jaccard_floor = 0.0

    def __len__(self) -> int:
        return len(self._leaders)

    @property
    def nbytes(self) -> int:
        """Memory held by the table and the in-memory part of the sets (not the leader ids)."""
        return self._table.nbytes + self._sets.nbytes

    def find(self, keys: np.ndarray, shingles: np.ndarray) -> Match | None:
        """The most similar leader at or above the threshold (ties: the earliest), or None."""
        return self.find_many(np.asarray(keys).reshape(1, -1), [shingles])[0]

    def find_many(self, keys: np.ndarray, sets: Sequence[np.ndarray]) -> list[Match | None]:
        """``find`` for several items at once: one table probe for all of them.

        Equal to calling ``find`` for each item in turn with no ``add`` in between (so an item
        never sees another of the same call; ``batch_collisions`` says which could have).
        """
        results: list[Match | None] = [None] * len(sets)
        if not self._leaders or not len(sets):
            return results
        if self._n_recent and len(self._leaders) > self._n_recent:
            self._flush()  # a large index: one insert per call beats comparing with the recent
        items, rows = self._table.probe_distinct(keys)
        if self._n_recent:
            recent = self._recent[: self._n_recent]  # type: ignore[index]
            hit_item, hit_recent = np.nonzero((keys[:, None, :] == recent[None, :, :]).any(axis=2))
            if hit_item.size:
                first = len(self._leaders) - self._n_recent
                items = np.concatenate([items, hit_item])
                rows = np.concatenate([rows, hit_recent + first])
        if not items.size:
            return results
        # Each pair once (the table's and the recent leaders' hits are disjoint), in no
        # particular order: the choice below sorts what it needs.
        p_item, p_row = items, rows
        reads_sets = self.verify_reads_jaccard or (self.verify is None and self.verify_many is None)
        if not self.keep_sets and (reads_sets or self.admit is not None):
            raise RuntimeError("LongIndex: this lookup reads shingle sets, which are not kept")
        q_data, q_off = flatten([np.asarray(s, dtype=np.uint32) for s in sets])
        if self.admit is not None:
            keep = self.admit(p_item, self._leader_array[p_row], np.diff(q_off)[p_item],
                              self._sets.sizes(p_row))
            p_item, p_row = p_item[keep], p_row[keep]
            if not p_item.size:
                return results
        if reads_sets:
            # Every candidate's exact Jaccard in one compiled pass over the sets.
            floor = self.jaccard_floor if self.verify or self.verify_many else self.threshold
            sims = self._sets.jaccard(q_data, q_off, p_item, p_row, floor)
        else:
            sims = np.full(p_item.size, np.nan)
        leaders = self._leader_array[p_row]
        best, best_sims = best_verified(p_item, leaders, p_row, sims, self.verify,
                                        self.verify_many, self.threshold)
        for k, sim in zip(best.tolist(), best_sims.tolist(), strict=True):
            results[int(p_item[k])] = Match(leaders[k], sim)
        return results

    def _flush(self) -> None:
        if self._n_recent and self._recent is not None:
            first = len(self._leaders) - self._n_recent
            self._table.insert(self._recent[: self._n_recent],
                               np.arange(first, len(self._leaders), dtype=np.int64))
            self._n_recent = 0

    def add(self, leader: Hashable, keys: np.ndarray, shingles: np.ndarray) -> None:
        if self._recent is None:
            self._recent = np.empty((self._RECENT, len(keys)), dtype=np.uint64)
        elif self._n_recent == self._RECENT:
            self._flush()
        self._recent[self._n_recent] = keys
        self._n_recent += 1
        if len(self._leaders) == self._leader_array.size:
            grown = np.empty(2 * self._leader_array.size, dtype=object)
            grown[: self._leader_array.size] = self._leader_array
            self._leader_array = grown
        self._leader_array[len(self._leaders)] = leader
        self._leaders.append(leader)
        self._sets.append(shingles if self.keep_sets else _NO_SET)


Verify = Callable[[int, Hashable, float], "float | None"]
VerifyMany = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def best_verified(p_item: np.ndarray, leaders: np.ndarray, age: np.ndarray, sims: np.ndarray,
                  verify: Verify | None, verify_many: VerifyMany | None, threshold: float
                  ) -> tuple[np.ndarray, np.ndarray]:
    """The choice of a long-index lookup, over its candidate pairs (item ``p_item[k]``,
    leader ``leaders[k]``, Jaccard ``sims[k]``): each pair is verified by ``verify_many``
    (all at once), else ``verify`` (pair by pair), else the threshold; per item, the most
    similar accepted pair wins, ties to the lowest ``age`` (the earliest leader). Returns the
    winning pairs' positions and their similarities. Shared by ``LongIndex`` and a persistent
    index's stored leaders (dedupe.store), which must choose alike."""
    if verify_many is not None:
        sims = np.asarray(verify_many(p_item, leaders, sims), dtype=np.float64)
    elif verify is not None:
        checked = [verify(item, leader, sim) for item, leader, sim
                   in zip(p_item.tolist(), leaders, sims.tolist(), strict=True)]
        sims = np.array([np.nan if c is None else c for c in checked], dtype=np.float64)
    else:
        sims = np.where(sims < threshold, np.nan, sims)
    ok = np.flatnonzero(~np.isnan(sims))
    order = ok[np.lexsort((age[ok], -sims[ok], p_item[ok]))]
    first = np.ones(order.size, dtype=bool)
    first[1:] = p_item[order][1:] != p_item[order][:-1]
    best = order[first]
    return best, sims[best]


def batch_collisions(keys: np.ndarray) -> np.ndarray:
    """For each row of band keys, whether it shares a (band, key) with an earlier row.

    The items of a ``find_many`` call that could have matched a leader added by an earlier
    item of the same call, had they been found and added one by one.
    """
    n, bands = keys.shape
    out = np.zeros(n, dtype=bool)
    if n < 2:
        return out
    with np.errstate(over="ignore"):  # tag each key with its band: equal pairs, equal tags
        tagged = (keys + np.arange(bands, dtype=np.uint64) * _BAND_TAG).reshape(-1)
    tagged.sort()
    if not (tagged[1:] == tagged[:-1]).any():
        return out  # the common case, in one sort; otherwise the exact answer below
    flat = keys.reshape(-1)
    band = np.tile(np.arange(bands), n)
    item = np.repeat(np.arange(n), bands)
    order = np.lexsort((item, flat, band))
    f, b, it = flat[order], band[order], item[order]
    same = (f[1:] == f[:-1]) & (b[1:] == b[:-1])
    out[it[1:][same]] = True
    return out


def edit_similarity(a: str, b: str) -> float:
    """Normalized Indel similarity in [0, 1] (rapidfuzz's ratio / 100)."""
    return float(fuzz.ratio(a, b)) / 100.0


class ShortIndex:
    """Leaders of short units: exact keys, then edit similarity within blocks.

    A short key is blocked by its first and last three characters: two keys within a couple
    of edits of each other almost always share one of the two ends.
    """

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold
        self._exact: dict[str, Hashable] = {}
        self._blocks: dict[str, list[str]] = {}
        self._rank: dict[str, int] = {}
        #: Optional veto (dedupe.verify): veto(key, leader_key) True rejects a similar pair.
        self.veto: Callable[[str, str], bool] | None = None

    @staticmethod
    def _block_keys(key: str) -> tuple[str, str]:
        return ("<" + key[:3], key[-3:] + ">")

    def find(self, key: str) -> Match | None:
        leader = self._exact.get(key)
        if leader is not None:
            return Match(leader, 1.0)
        candidates: dict[str, None] = {}
        for block in self._block_keys(key):
            for other in self._blocks.get(block, ()):
                candidates[other] = None
        if not candidates:
            return None
        # extractOne returns the first of equal scores: sort so that the first is the earliest.
        ordered = sorted(candidates, key=self._rank.__getitem__)
        cutoff = self.threshold * 100.0
        if self.veto is not None:  # the best candidate that the veto lets through
            scored = rf_process.extract(key, ordered, scorer=fuzz.ratio, score_cutoff=cutoff,
                                        limit=None)
            for other, score, _ in sorted(scored, key=lambda x: (-x[1], x[2])):
                if not self.veto(key, other):
                    return Match(self._exact[other], float(score) / 100.0)
            return None
        best = rf_process.extractOne(key, ordered, scorer=fuzz.ratio, score_cutoff=cutoff)
        if best is None:
            return None
        return Match(self._exact[best[0]], float(best[1]) / 100.0)

    def add(self, leader: Hashable, key: str) -> None:
        if key in self._exact:
            return
        self._exact[key] = leader
        self._rank[key] = len(self._rank)
        for block in self._block_keys(key):
            self._blocks.setdefault(block, []).append(key)
