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

from collections.abc import Hashable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from datasketch.lsh import _optimal_param
from rapidfuzz import fuzz
from rapidfuzz import process as rf_process

from dedupe.fingerprint import jaccard

_MIX = np.uint64(0x9E3779B97F4A7C15)
_MIX2 = np.uint64(0xBF58476D1CE4E5B9)


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


class LongIndex:
    """Leaders of long units (or documents): band tables plus their shingle sets."""

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold
        self._tables: list[dict[int, list[Hashable]]] = []
        self._sets: dict[Hashable, np.ndarray] = {}
        self._order: dict[Hashable, int] = {}

    def find(self, keys: np.ndarray, shingles: np.ndarray) -> Match | None:
        """The most similar leader at or above the threshold (ties: the earliest), or None."""
        if not self._tables:
            return None
        seen: set[Hashable] = set()
        for table, key in zip(self._tables, keys.tolist(), strict=False):
            bucket = table.get(key)
            if bucket:
                seen.update(bucket)
        best: Match | None = None
        best_order = 0
        for leader in seen:
            sim = jaccard(shingles, self._sets[leader])
            if sim < self.threshold:
                continue
            order = self._order[leader]
            better = best is None or sim > best.similarity
            if better or (best is not None and sim == best.similarity and order < best_order):
                best, best_order = Match(leader, sim), order
        return best

    def add(self, leader: Hashable, keys: np.ndarray, shingles: np.ndarray) -> None:
        if not self._tables:
            self._tables = [{} for _ in range(len(keys))]
        for table, key in zip(self._tables, keys.tolist(), strict=False):
            table.setdefault(key, []).append(leader)
        self._sets[leader] = shingles
        self._order[leader] = len(self._order)


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
        best = rf_process.extractOne(
            key, ordered, scorer=fuzz.ratio, score_cutoff=self.threshold * 100.0
        )
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
