"""The naive baseline: what most deduplication pipelines run, under dedupe's keep-first rules.

MinHash (datasketch, 128 permutations) over word 5-gram shingles of lowercased text (no other
normalization, no repair), candidates from ``MinHashLSH`` at threshold 0.8, accepted when the
MinHash estimate of Jaccard is at least 0.8. A text of fewer than five words is one shingle.
The decisions follow dedupe's rules exactly, so that only the matching differs: documents
first (a near-duplicate of an earlier kept document goes), then units of the kept documents
(a repeat inside its document keeps its first copy; a unit of at most ``boilerplate_max_chars``
characters found in at least ``min_docs`` documents is boilerplate, every copy goes; a longer
unit first seen in an earlier document goes).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from datasketch import MinHash, MinHashLSH

from benchmarks.accuracy_metrics import Prediction, UnitRef


def word_shingles(text: str, n: int = 5) -> set[str]:
    words = text.lower().split()
    if len(words) < n:
        return {" ".join(words)}
    return {" ".join(words[i : i + n]) for i in range(len(words) - n + 1)}


def minhash(shingles: set[str], num_perm: int) -> MinHash:
    m = MinHash(num_perm=num_perm)
    m.update_batch([s.encode("utf-8") for s in sorted(shingles)])
    return m


@dataclass
class _Cluster:
    leader: UnitRef
    leader_chars: int
    docs: set[int] = field(default_factory=set)


def _best(lsh: MinHashLSH, m: MinHash, store: dict[int, MinHash], threshold: float) -> int | None:
    best, best_sim = None, -1.0
    for key in sorted(lsh.query(m)):
        sim = m.jaccard(store[key])
        if sim >= threshold and sim > best_sim:
            best, best_sim = key, sim
    return best


def baseline(texts: Sequence[str], threshold: float = 0.8, num_perm: int = 128,
             min_docs: int = 2, boilerplate_max_chars: int = 100) -> Prediction:
    """Keep-first decisions with word 5-gram MinHash matching (one unit per line)."""
    pred = Prediction()
    docs_lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    doc_hashes: dict[int, MinHash] = {}
    units_lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    unit_hashes: dict[int, MinHash] = {}
    clusters: list[_Cluster] = []
    placed: dict[UnitRef, int] = {}
    kept: list[int] = []
    lines_of: dict[int, list[str]] = {}
    for d, text in enumerate(texts):
        m = minhash(word_shingles(text), num_perm)
        match = _best(docs_lsh, m, doc_hashes, threshold)
        if match is not None:
            pred.near_dup[d] = match
            continue
        docs_lsh.insert(d, m)
        doc_hashes[d] = m
        kept.append(d)
        lines = [line for line in text.split("\n")]
        lines_of[d] = lines
        for i, line in enumerate(lines):
            if not line.strip():
                continue
            um = minhash(word_shingles(line), num_perm)
            c = _best(units_lsh, um, unit_hashes, threshold)
            if c is None:
                c = len(clusters)
                clusters.append(_Cluster((d, i), len(line)))
                units_lsh.insert(c, um)
                unit_hashes[c] = um
            clusters[c].docs.add(d)
            placed[(d, i)] = c
    for d in kept:
        first_in_doc: dict[int, UnitRef] = {}
        lines = lines_of[d]
        removed: list[UnitRef] = []
        for i, line in enumerate(lines):
            if not line.strip():
                continue
            c = placed[(d, i)]
            cluster = clusters[c]
            if cluster.leader_chars <= boilerplate_max_chars and len(cluster.docs) >= min_docs:
                pred.removed[(d, i)] = cluster.leader if cluster.leader != (d, i) else None
                removed.append((d, i))
            elif c in first_in_doc:
                pred.removed[(d, i)] = first_in_doc[c]
                removed.append((d, i))
            elif cluster.leader[0] != d:
                pred.removed[(d, i)] = cluster.leader
                removed.append((d, i))
            first_in_doc.setdefault(c, (d, i))
        if len(removed) == sum(1 for line in lines if line.strip()):
            pred.emptied.add(d)
    return pred


__all__ = ["baseline", "word_shingles"]
