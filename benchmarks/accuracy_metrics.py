"""Scoring a cleaner's decisions against the generated ground truth.

A cleaner's output is reduced to a ``Prediction``: which documents it dropped as
near-duplicates (and of which document), which units it removed (and a copy of which unit).
The same scoring applies to dedupe and to the naive baseline, so their figures compare.

* **unit removals**: over the units of every document that is not a true near-duplicate (those
  are scored as documents). A unit should go when it is boilerplate by construction (a site
  line found in at least ``min_docs`` such documents: every copy) or a later copy of an earlier
  unit (same origin). A removal is correct when the unit should go; a unit of a document that
  was dropped counts as removed.
* **document pairs**: each near-duplicate drop names a kept document; it is correct when both
  are in one ground-truth cluster (a syndicated copy and its original). Recall is over the true
  near-duplicate documents; a false merge is a drop that is not correct.
* **adjusted Rand index** of the unit clustering (units linked to the unit they copy) against
  the origins, over the scored units; and of the document clustering against the clusters.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from benchmarks.accuracy_corpus import Skeleton

UnitRef = tuple[int, int]  # (document, unit index)


@dataclass
class Prediction:
    """What a cleaner decided, in corpus coordinates."""

    near_dup: dict[int, int] = field(default_factory=dict)  # dropped doc -> doc it copies
    emptied: set[int] = field(default_factory=set)  # dropped because nothing was left
    removed: dict[UnitRef, UnitRef | None] = field(default_factory=dict)  # unit -> its copy of
    contained: set[UnitRef] = field(default_factory=set)  # removed as inside a longer unit


def adjusted_rand_index(truth: Sequence[Hashable], pred: Sequence[Hashable]) -> float:
    """Hubert and Arabie's adjusted Rand index of two labelings of the same items.

    1.0 for identical partitions, about 0.0 for independent ones. Two all-singleton (or
    all-one-cluster) partitions are identical: 1.0.
    """
    if len(truth) != len(pred):
        raise ValueError("labelings differ in length")
    n = len(truth)
    if n < 2:
        return 1.0
    _, t = np.unique(np.array([str(x) for x in truth]), return_inverse=True)
    _, p = np.unique(np.array([str(x) for x in pred]), return_inverse=True)
    table = np.zeros((t.max() + 1, p.max() + 1), dtype=np.int64)
    np.add.at(table, (t, p), 1)

    def comb2(x: np.ndarray) -> float:
        return float((x * (x - 1) // 2).sum())

    index = comb2(table)
    rows = comb2(table.sum(axis=1))
    cols = comb2(table.sum(axis=0))
    total = n * (n - 1) / 2
    expected = rows * cols / total
    maximum = (rows + cols) / 2
    if maximum == expected:
        return 1.0
    return (index - expected) / (maximum - expected)


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[Hashable, Hashable] = {}

    def find(self, x: Hashable) -> Hashable:
        parent = self.parent.setdefault(x, x)
        if parent != x:
            parent = self.parent[x] = self.find(parent)
        return parent

    def union(self, a: Hashable, b: Hashable) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)  # type: ignore[call-overload]


def expected_removals(skeleton: Skeleton, min_docs: int = 2) -> set[UnitRef]:
    """The units that should go, in input order, outside true near-duplicate documents."""
    scored = [d for d in skeleton.docs if d.near_dup_of is None]
    docs_of: dict[str, set[int]] = defaultdict(set)
    for doc in scored:
        for unit in doc.units:
            if unit.boilerplate:
                docs_of[unit.origin].add(doc.ident)
    out: set[UnitRef] = set()
    seen: set[str] = set()
    for doc in scored:
        for i, unit in enumerate(doc.units):
            boilerplate = unit.boilerplate and len(docs_of[unit.origin]) >= min_docs
            if boilerplate or unit.origin in seen:
                out.add((doc.ident, i))
            seen.add(unit.origin)
    return out


def _ratio(a: int, b: int) -> float:
    return a / b if b else 1.0


def score(skeleton: Skeleton, pred: Prediction, min_docs: int = 2) -> dict[str, Any]:
    """Precision, recall and ARI of one prediction against the skeleton's ground truth."""
    docs = skeleton.docs
    near = {d.ident for d in docs if d.near_dup_of is not None}
    dropped = set(pred.near_dup) | pred.emptied
    scored_units = [(d.ident, i) for d in docs if d.ident not in near for i in range(len(d.units))]
    should = expected_removals(skeleton, min_docs)
    removed = {u for u in scored_units if u in pred.removed or u[0] in dropped}
    tp = len(removed & should)

    cluster = {d.ident: d.cluster for d in docs}
    correct_pairs = {d for d, of in pred.near_dup.items() if cluster[d] == cluster[of]}
    false_merges = len(pred.near_dup) - len(correct_pairs)

    # Unit clustering: each removal links a unit to the unit it copies.
    uf = _UnionFind()
    for unit, of in pred.removed.items():
        if of is not None:
            uf.union(unit, of)
    origin = {(d.ident, i): u.origin for d in docs for i, u in enumerate(d.units)}
    unit_ari = adjusted_rand_index([origin[u] for u in scored_units],
                                   [uf.find(u) for u in scored_units])
    docs_uf = _UnionFind()
    for copy, kept_doc in pred.near_dup.items():
        docs_uf.union(copy, kept_doc)
    doc_ari = adjusted_rand_index([d.cluster for d in docs], [docs_uf.find(d.ident) for d in docs])

    return {
        "unit_precision": _ratio(tp, len(removed)),
        "unit_recall": _ratio(tp, len(should)),
        "units_scored": len(scored_units),
        "units_should_go": len(should),
        "units_removed": len(removed),
        "units_wrongly_removed": len(removed - should),
        "units_missed": len(should - removed),
        "doc_precision": _ratio(len(correct_pairs), len(pred.near_dup)),
        "doc_recall": _ratio(len(correct_pairs & near), len(near)),
        "doc_false_merges": false_merges,
        "docs_near_duplicate": len(near),
        "docs_dropped_as_near_duplicate": len(pred.near_dup),
        "unit_ari": unit_ari,
        "doc_ari": doc_ari,
    }


def containment_score(skeleton: Skeleton, pred: Prediction) -> dict[str, Any]:
    """Precision and recall of the containment removals: the first copy of a line whose text
    is also inside a longer unit of its document should go; nothing else should go that way."""
    firsts: set[UnitRef] = set()  # what containment alone can remove (later copies repeat)
    every: set[UnitRef] = set()
    for doc in skeleton.docs:
        seen: set[str] = set()
        for i, unit in enumerate(doc.units):
            if unit.contained:
                every.add((doc.ident, i))
                if unit.origin not in seen:
                    firsts.add((doc.ident, i))
            seen.add(unit.origin)
    return {"contained_precision": _ratio(len(pred.contained & every), len(pred.contained)),
            "contained_recall": _ratio(len(firsts & set(pred.removed)), len(firsts)),
            "contained_should_go": len(firsts), "contained_removed": len(pred.contained)}


def errors(skeleton: Skeleton, pred: Prediction, texts: Sequence[str],
           min_docs: int = 2) -> dict[str, list[dict[str, Any]]]:
    """The wrong removals and the misses, with their text and ground truth (for tuning)."""
    docs = skeleton.docs
    near = {d.ident for d in docs if d.near_dup_of is not None}
    should = expected_removals(skeleton, min_docs)
    lines = [t.split("\n") for t in texts]

    def describe(ref: UnitRef) -> dict[str, Any]:
        unit = docs[ref[0]].units[ref[1]]
        of = pred.removed.get(ref)
        out: dict[str, Any] = {"unit": list(ref), "kind": unit.kind, "origin": unit.origin,
                               "family": unit.family, "text": lines[ref[0]][ref[1]]}
        if of is not None:
            other = docs[of[0]].units[of[1]]
            out["copy_of"] = {"unit": list(of), "origin": other.origin,
                              "text": lines[of[0]][of[1]]}
        return out

    wrong = [describe(u) for u in sorted(pred.removed) if u[0] not in near and u not in should]
    missed = [describe(u) for u in sorted(should) if u not in pred.removed
              and u[0] not in pred.near_dup and u[0] not in pred.emptied]
    cluster = {d.ident: d.cluster for d in docs}
    merges = [{"doc": d, "of": of, "kind": docs[d].kind} for d, of in pred.near_dup.items()
              if cluster[d] != cluster[of]]
    missed_docs = [{"doc": d, "of": docs[d].near_dup_of.ident}  # type: ignore[union-attr]
                   for d in sorted(near) if d not in pred.near_dup]
    return {"wrong": wrong, "missed": missed, "false_merges": merges,
            "missed_docs": missed_docs}


def mean(values: Iterable[float]) -> float:
    vals = list(values)
    return sum(vals) / len(vals) if vals else float("nan")


__all__ = ["Prediction", "adjusted_rand_index", "containment_score", "errors",
           "expected_removals", "score"]
