"""The decisions: what is dropped, why, and a copy of what. Keep-first, in input order.

``Decider.observe`` sees documents in input order and places each against what came before:
a near-duplicate of an earlier kept document, or kept, with each unit assigned to a cluster of
similar units (led by its first copy). ``Decider.finalize`` then turns a document's placement
into removals, using the boilerplate counts seen so far: after all documents in batch mode
(exact counts), straight away in streaming mode (counts of the past only).
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

import numpy as np
from rapidfuzz import process as rf_process
from rapidfuzz.distance import Indel

from dedupe.config import Config
from dedupe.index import LongIndex, Match, ShortIndex
from dedupe.model import Ref, Removal, Result
from dedupe.prepare import Prepared
from dedupe.segment import render, unit_text
from dedupe.verify import HISTOGRAM_BINS, Verifier, char_histograms, edit_similarity_bounds

# A caption ends with a short credit in parentheses, "(AP)", "(Reuters/John Doe)", or names one.
_CAPTION = re.compile(
    r"(\(\s*[A-Z][\w .&/'’-]{0,40}\)\s*$)|(^\s*(photo|image|file photo|picture)\b)|"
    r"\b(photo|credit|image)\s*:", re.IGNORECASE)


def guess_role(p: Prepared, unit: int, first: int) -> str | None:
    """'headline' for a copy of the document's first unit, 'caption' for a credited photo line."""
    if first == 0 and unit != 0:
        return "headline"
    if _CAPTION.search(unit_text(p.lines, p.spans[unit])):
        return "caption"
    return None


@dataclass(slots=True)  # one per distinct unit: every field costs (see docs/performance.md)
class Cluster:
    """Similar units across kept documents; the leader is the first copy seen."""

    leader_ordinal: int  # the leader document's run position (ids need not be unique)
    leader_doc: str
    leader_position: int
    #: The leader's text: kept only for a persistent index, which stores it ("" otherwise).
    leader_text: str
    earlier: dict[str | None, int] | None = None  # per group: a stored index's counts
    key: str = ""  # the leader's match key, for verification ("" when unknown: Jaccard only)
    chars: int = -1  # the leader's length (-1: that of leader_text)
    #: The kept documents that hold the cluster, by run position: the first in two fields,
    #: the others per group, ascending, in a dict made only when there are any. Most clusters
    #: are in one document, and a dict of lists would cost them ~250 bytes.
    first_group: str | None = None
    first_doc: int = -1
    more: dict[str | None, list[int]] | None = None

    def add_document(self, group: str | None, ordinal: int) -> None:
        """A kept document holds the cluster (documents come in input order)."""
        if self.first_doc < 0:
            self.first_group, self.first_doc = group, ordinal
            return
        if ordinal == self.first_doc and group == self.first_group:
            return
        if self.more is None:
            self.more = {group: [ordinal]}
            return
        docs = self.more.get(group)
        if docs is None:
            self.more[group] = [ordinal]
        elif docs[-1] != ordinal:
            docs.append(ordinal)

    def doc_count(self, group: str | None) -> int:
        """Distinct kept documents of ``group`` that hold the cluster, a stored index's too."""
        stored = self.earlier.get(group, 0) if self.earlier else 0
        first = 1 if self.first_doc >= 0 and self.first_group == group else 0
        return stored + first + (len(self.more.get(group, ())) if self.more else 0)

    def counts(self) -> dict[str | None, int]:
        """This run's kept documents that hold the cluster, counted per group (groups in the
        order their first document came)."""
        out: dict[str | None, int] = {}
        if self.first_doc >= 0:
            out[self.first_group] = 1
        for group, docs in (self.more or {}).items():
            out[group] = out.get(group, 0) + len(docs)
        return out

    def documents(self) -> set[int]:
        """This run's kept documents that hold the cluster, in any group."""
        docs = {self.first_doc} if self.first_doc >= 0 else set()
        for more in (self.more or {}).values():
            docs.update(more)
        return docs

    @property
    def leader_chars(self) -> int:
        """Length of the leader's text (the boilerplate rule reads it)."""
        return self.chars if self.chars >= 0 else len(self.leader_text)


@dataclass
class Placement:
    """Where observe() put a document: dropped as a near-duplicate, or its units' clusters."""

    duplicate_of: Ref | None = None
    similarity: float = 0.0
    clusters: dict[int, tuple[int, float]] = field(default_factory=dict)  # unit -> (cluster, sim)


class History(Protocol):
    """The past of a persistent index (dedupe.store.IndexRun), decided against before this run."""

    def indexes(self) -> tuple[LongIndex, LongIndex, ShortIndex]:
        """Documents, long units, short units: indexes that also answer from the stored past."""

    def cluster_id(self, leader: Hashable, clusters: list[Cluster]) -> int:
        """Where a cluster found in the stored past is in `clusters` (appended on first use)."""

    def document_content(self, leader: Hashable, clusters: list[Cluster]
                         ) -> tuple[dict[int, int], int] | None:
        """A stored document's content units' clusters (in `clusters`) with their characters,
        and their total: what ``_doc_content`` holds for a document of this run. A cluster
        not loaded into `clusters` yet (no unit of this run joined it) has a negative id."""


#: Near-duplicate candidates by shared clusters: at most this many documents per document,
#: from clusters found in at most this many documents.
_SHARING_MAX = 50
_SHARING_CLUSTER_MAX = 100


class Decider:
    """Keep-first decisions over a stream of prepared documents; holds only fingerprints."""

    def __init__(self, config: Config, history: History | None = None) -> None:
        self.config = config
        self.history = history
        self.documents = LongIndex(config.document_threshold)
        self.long_units = LongIndex(config.unit_threshold)
        self.short_units = ShortIndex(config.short_unit_threshold)
        if history is not None:
            self.documents, self.long_units, self.short_units = history.indexes()
        self.clusters: list[Cluster] = []
        self._doc_refs: dict[Hashable, Ref] = {}
        # Verification (dedupe.verify): the indexes propose, these callbacks decide.
        self._verifier = Verifier(config)
        self._current: Prepared | None = None  # the document being placed
        self._items: list[int] = []  # its unit behind each item of the current index lookup
        self._matches: dict[int, Match | None] = {}  # its first copies' clusters, if any
        #: Its units matched only by _verify_document's direct comparison: unit -> (cluster,
        #: similarity). Placed in those clusters when the document stays, so that a unit that
        #: counted towards a near-duplicate is a removed copy too (cleaning again agrees).
        self._rescued: dict[int, tuple[int, float]] = {}
        #: Kept document -> its content units' clusters (cluster -> characters) and their total.
        self._doc_content: dict[Hashable, tuple[dict[int, int], int]] = {}
        self._keys = np.empty(0, dtype=object)  # clusters' keys for _verify_units, by id
        self._keys_known = 0  # how many of them are filled in
        self._key_lengths = np.zeros(0, dtype=np.int64)  # their lengths
        self._key_hists = np.zeros((0, HISTOGRAM_BINS), dtype=np.uint8)  # char_histograms
        self._total_of: Prepared | None = None  # the document _total is the content size of
        self._total = 0
        #: _verify_document's view of the current document's content units: (unit, cluster
        #: or -1, characters x similarity, similarity), made on its first call for it.
        self._content_of: Prepared | None = None
        self._content: list[tuple[int, int, float, float]] = []
        self._content_ids: set[int] = set()  # the clusters in it
        self.long_units.verify = self._verify_unit
        self.long_units.verify_many = self._verify_units
        self.long_units.admit = self._admit_units
        # _verify_unit reads a Jaccard only from unit_threshold up; below it the edit
        # similarity decides, and when it passes (>= unit_edit_threshold) it is the larger.
        self.long_units.jaccard_floor = min(config.unit_threshold, config.unit_edit_threshold)
        self.short_units.veto = self._verifier.vetoes
        self.documents.verify = self._verify_document
        # The content Jaccard decides only a stored document whose content is unknown.
        self.documents.verify_reads_jaccard = history is not None
        self.documents.keep_sets = history is not None  # (read by nothing else)

    def document_ref(self, leader: Hashable) -> Ref:
        """The kept document a document leader stands for (a stored one is a Ref already)."""
        return leader if isinstance(leader, Ref) else self._doc_refs[leader]

    def _cluster_id(self, leader: Hashable) -> int:
        """A unit leader's index in self.clusters (a stored cluster is loaded on first use)."""
        if isinstance(leader, int) or self.history is None:
            return int(leader)  # type: ignore[call-overload]
        return self.history.cluster_id(leader, self.clusters)

    def observe(self, p: Prepared) -> Placement:
        """Place a document against everything kept before it (input order)."""
        placement = Placement()
        if p.passed is not None or not p.spans:
            return placement
        cfg = self.config
        matches = self._find_units(p)
        self._rescued = {}
        if cfg.drop_near_duplicate_documents and p.content.size:
            self._current, self._matches = p, matches
            match = self.documents.find(p.content_bands, p.content)
            for ordinal in self._sharing_documents(p, matches):
                sim = self._verify_document(0, ordinal, 0.0, rescue=True)
                if sim is not None and (match is None or sim > match.similarity or (
                        sim == match.similarity and isinstance(match.leader, int)
                        and ordinal < match.leader)):
                    match = Match(ordinal, sim)
            if match is not None:
                placement.duplicate_of = self.document_ref(match.leader)
                placement.similarity = match.similarity
                return placement
        if p.content.size:
            self.documents.add(p.document.ordinal, p.content_bands, p.content)
            self._doc_refs[p.document.ordinal] = Ref(p.document.id)
        group = p.document.group
        for i, match in matches.items():
            key = p.keys[i]
            if match is None and i in self._rescued:
                cluster_id, similarity = self._rescued[i]
                match = Match(cluster_id, similarity)
            if match is None:
                cluster_id = len(self.clusters)
                text = unit_text(p.lines, p.spans[i])
                self.clusters.append(Cluster(
                    p.document.ordinal, p.document.id, p.position(i),
                    text if self.history is not None else "", key=key, chars=len(text)))
                if p.short[i]:
                    self.short_units.add(cluster_id, key)
                else:
                    self.long_units.add(cluster_id, p.unit_bands[i], p.shingles(i))
                placement.clusters[i] = (cluster_id, 1.0)
            else:
                cluster_id = self._cluster_id(match.leader)
                placement.clusters[i] = (cluster_id, match.similarity)
            self.clusters[cluster_id].add_document(group, p.document.ordinal)
        if p.content.size:
            content: dict[int, int] = {}
            for i in p.content_units:
                if i in placement.clusters:  # (a unit whose match key is empty is not placed)
                    cluster_id = placement.clusters[i][0]
                    content[cluster_id] = content.get(cluster_id, 0) + len(p.keys[i])
            self._doc_content[p.document.ordinal] = (content, sum(content.values()))
        return placement

    def _find_units(self, p: Prepared) -> dict[int, Match | None]:
        """The earlier cluster of each of the document's first copies (None: a new one).

        All looked up before the document adds anything: two first copies of one document
        never match each other (find_local_repeats applies the same test), so the answers
        are those of one-by-one lookups with adds in between.
        """
        self._current = p
        found = self._find_long_units(p)
        out: dict[int, Match | None] = {}
        for i, key in enumerate(p.keys):
            if p.local_first[i] != i or not p.matchable[i] or not key:
                continue
            if p.short[i]:
                out[i] = self.short_units.find(key)
            elif i in found:
                out[i] = found[i]
            else:
                self._items = [i]
                out[i] = self.long_units.find(p.unit_bands[i], p.shingles(i))
        return out

    def _sharing_documents(self, p: Prepared, matches: dict[int, Match | None]) -> list[int]:
        """This run's kept documents that hold a cluster one of p's content units joined: the
        near-duplicate candidates by the units themselves, besides the document LSH's. The
        most shared first, at most ``_SHARING_MAX``; clusters in very many documents (quoted
        wire copy) name no candidates."""
        weight: dict[int, int] = {}
        for i in p.content_units:
            match = matches.get(i)
            if match is None or not isinstance(match.leader, int):
                continue
            docs = self.clusters[match.leader].documents()
            if len(docs) > _SHARING_CLUSTER_MAX:
                continue
            for ordinal in docs:
                if ordinal in self._doc_content:
                    weight[ordinal] = weight.get(ordinal, 0) + len(p.keys[i])
        return sorted(weight, key=lambda d: (-weight[d], d))[:_SHARING_MAX]

    def _verify_unit(self, item: int, leader: Hashable, jaccard: float) -> float | None:
        """LongIndex callback: is the current document's unit a copy of this cluster's leader?"""
        # A cluster stored by an earlier run (dedupe.store) carries its leader's key.
        key = self.clusters[leader].key if isinstance(leader, int) else getattr(leader, "key", "")
        if not key or self._current is None:
            return jaccard if jaccard >= self.config.unit_threshold else None
        return self._verifier.long_units(self._current.keys[self._items[item]], key, jaccard)

    def _verify_units(self, items: np.ndarray, leaders: Sequence[Hashable] | np.ndarray,
                      jaccards: np.ndarray) -> np.ndarray:
        """``_verify_unit`` for every candidate pair of one lookup (LongIndex.verify_many).

        Equal, pair for pair, to ``_verify_unit`` (NaN for None); faster because the pairs
        travel as arrays: the keys are picked by array indexing, the edit similarity of all of
        them is rapidfuzz's C++ (``cpdist``, which rejects most), and only the few pairs that
        pass go on to the word veto in Python.
        """
        n = len(leaders)
        out = np.full(n, np.nan)
        p, verifier = self._current, self._verifier
        if p is None or not n:
            return self._verify_pairwise(items, leaders, jaccards, np.arange(n), out)
        leader_array, local = self._local_leaders(leaders)
        b = self._leader_keys(leader_array, local)
        keyed = b != ""
        self._verify_pairwise(items, leaders, jaccards, np.flatnonzero(~keyed), out)
        keyed_at = np.flatnonzero(keyed)
        if not keyed_at.size:
            return out
        item_keys = np.empty(len(self._items), dtype=object)
        item_keys[:] = [p.keys[i] for i in self._items]
        item_at = np.asarray(items)[keyed_at]
        a, b, jac = item_keys[item_at], b[keyed_at], jaccards[keyed_at]
        by_shingles = jac >= verifier.jaccard_threshold
        edit = np.zeros(keyed_at.size)
        rest = np.flatnonzero(~by_shingles)  # these pass only by the edit threshold ...
        if rest.size:  # ... which most cannot reach by their characters alone
            item_hists = char_histograms(list(item_keys))
            item_lengths = np.fromiter(map(len, item_keys), dtype=np.int64, count=item_keys.size)
            at, leader_at = item_at[rest], keyed_at[rest]
            leader_hists, leader_lengths = self._leader_histograms(
                leader_array[leader_at], local[leader_at], b[rest])
            reach = edit_similarity_bounds(item_hists[at], item_lengths[at], leader_hists,
                                           leader_lengths)
            rest = rest[reach >= verifier.edit_threshold - 1e-9]
        for pick, cutoff in ((np.flatnonzero(by_shingles), 0.0), (rest, verifier.edit_threshold)):
            if pick.size:
                edit[pick] = rf_process.cpdist(a[pick], b[pick],
                                               scorer=Indel.normalized_similarity,
                                               score_cutoff=cutoff, dtype=np.float64)
        for j in np.flatnonzero(by_shingles | (edit >= verifier.edit_threshold)).tolist():
            if not verifier.vetoes(a[j], b[j]):
                out[keyed_at[j]] = max(float(jac[j]), float(edit[j]))
        return out

    def _admit_units(self, items: np.ndarray, leaders: np.ndarray, item_sizes: np.ndarray,
                     leader_sizes: np.ndarray) -> np.ndarray:
        """The candidate pairs ``_verify_unit`` could accept, told by sizes alone (LongIndex.admit).

        A Jaccard is at most the ratio of the two set sizes; an edit similarity (normalized
        Indel) at most ``2 * min(len) / (len_a + len_b)``. A pair that reaches neither
        threshold by these bounds cannot pass: on a large corpus most candidates of a low
        candidate threshold are such (a short line against a long one), and are dropped here
        before their sets are read.
        """
        slack = 1e-9  # bounds compared with a margin: never reject a pair on rounding
        verifier = self._verifier
        ok = (np.minimum(item_sizes, leader_sizes)
              >= (verifier.jaccard_threshold - slack) * np.maximum(item_sizes, leader_sizes))
        p = self._current
        if p is None:
            return ok  # no keys: the Jaccard decides (as in _verify_unit)
        leader_array, local = self._local_leaders(leaders)
        self._cluster_keys()  # (brings _key_lengths up to date)
        key_len = np.zeros(len(leader_array), dtype=np.int64)
        key_len[local] = self._key_lengths[leader_array[local].astype(np.int64)]
        if not local.all():
            key_len[~local] = [len(getattr(x, "key", "") or "") for x in leader_array[~local]]
        item_len = np.fromiter((len(p.keys[i]) for i in self._items), dtype=np.int64,
                               count=len(self._items))[np.asarray(items)]
        by_edit = (2 * np.minimum(item_len, key_len)
                   >= (verifier.edit_threshold - slack) * (item_len + key_len)) & (key_len > 0)
        return ok | by_edit

    def _leader_keys(self, leader_array: np.ndarray, local: np.ndarray) -> np.ndarray:
        """The match key of each unit leader ("" when unknown), as an object array: this
        run's clusters by array indexing, a stored cluster (dedupe.store) by its ``key``.
        (``leader_array``, ``local``: as ``_local_leaders`` makes them.)"""
        keys = np.full(len(leader_array), "", dtype=object)
        keys[local] = self._cluster_keys()[leader_array[local].astype(np.int64)]
        if not local.all():
            keys[~local] = [getattr(x, "key", "") or "" for x in leader_array[~local]]
        return keys

    def _leader_histograms(self, leader_array: np.ndarray, local: np.ndarray, keys: np.ndarray
                           ) -> tuple[np.ndarray, np.ndarray]:
        """``char_histograms`` of the unit leaders' match keys (``keys``), and the keys'
        lengths: this run's clusters' from a cache by cluster id, a stored cluster's made here.
        (``leader_array``, ``local``: as ``_local_leaders`` makes them.)"""
        hists = np.empty((len(leader_array), HISTOGRAM_BINS), dtype=np.uint8)
        lengths = np.empty(len(leader_array), dtype=np.int64)
        ids = leader_array[local].astype(np.int64)
        self._cluster_keys()  # (brings the histograms and lengths up to date)
        hists[local], lengths[local] = self._key_hists[ids], self._key_lengths[ids]
        if not local.all():
            hists[~local] = char_histograms(list(keys[~local]))
            lengths[~local] = [len(k) for k in keys[~local]]
        return hists, lengths

    def _local_leaders(self, leaders: Sequence[Hashable] | np.ndarray
                       ) -> tuple[np.ndarray, np.ndarray]:
        """The leaders as an object array, and which are this run's clusters (ints; a stored
        one, from dedupe.store, is an object until it is loaded)."""
        n = len(leaders)
        leader_array = np.empty(n, dtype=object)
        leader_array[:] = leaders
        local = (np.ones(n, dtype=bool) if self.history is None else
                 np.fromiter((isinstance(x, int) for x in leader_array), dtype=bool, count=n))
        return leader_array, local

    def _verify_pairwise(self, items: np.ndarray, leaders: Sequence[Hashable] | np.ndarray,
                         jaccards: np.ndarray, at: np.ndarray, out: np.ndarray) -> np.ndarray:
        """``_verify_unit`` for the pairs ``at`` of a lookup, one by one, into ``out``."""
        for k in at.tolist():
            checked = self._verify_unit(int(items[k]), leaders[k], float(jaccards[k]))
            out[k] = np.nan if checked is None else checked
        return out

    def _cluster_keys(self) -> np.ndarray:
        """Every cluster's leader key, by cluster id, as an object array (grown as needed;
        ``_key_lengths`` and ``_key_hists`` alongside)."""
        known, count = self._keys_known, len(self.clusters)
        if known < count:
            if count > self._keys.size:
                size = max(64, 2 * count)
                keys, lengths = np.empty(size, dtype=object), np.zeros(size, dtype=np.int64)
                hists = np.zeros((size, HISTOGRAM_BINS), dtype=np.uint8)
                keys[:known], lengths[:known] = self._keys[:known], self._key_lengths[:known]
                hists[:known] = self._key_hists[:known]
                self._keys, self._key_lengths, self._key_hists = keys, lengths, hists
            new = [c.key for c in self.clusters[known:count]]
            self._keys[known:count] = new
            self._key_lengths[known:count] = [len(k) for k in new]
            self._key_hists[known:count] = char_histograms(new)
            self._keys_known = count
        return self._keys

    def _verify_document(self, item: int, leader: Hashable, jaccard: float,
                         rescue: bool = False) -> float | None:
        """Is the current document a near-duplicate of this kept one? (LongIndex callback.)

        Similarity = the share of each document's content (characters of its content units,
        weighted by their similarity) that has a verified match in the other; the lower of the
        two shares. Units are matched through their clusters; with ``rescue`` (a document that
        shares clusters with this one), the ones left over are also compared directly with the
        other document's leaders, with a more lenient veto (noise that hid them from the unit
        LSH or the unit veto). Rescued units are placed in those clusters if the document
        stays, so they go as copies: that keeps clean(clean(x)) == clean(x), since a kept
        unit can then share no cluster with an earlier document, and a second pass finds no
        candidate a first pass did not settle.
        """
        p = self._current
        if p is not None and self._content_of is not p:
            # The current document's content units' clusters, once per document, and first:
            # that loads the stored clusters it joined, which a stored document's content
            # names by these ids only once they are loaded (History.document_content).
            self._content_of, self._content = p, [
                (i, -1, 0.0, 0.0) if (match := self._matches.get(i)) is None else
                (i, self._cluster_id(match.leader), len(p.keys[i]) * match.similarity,
                 match.similarity) for i in p.content_units]
            self._content_ids = {cluster_id for _, cluster_id, _, _ in self._content}
        other = self._doc_content.get(leader)
        if other is None and self.history is not None:  # a document stored by an earlier run
            other = self.history.document_content(leader, self.clusters)
        if other is None or p is None:  # unknown content: its content Jaccard decides
            return jaccard if jaccard >= self.config.document_threshold else None
        clusters, other_total = other
        if self._total_of is not p:  # the current document's content size, once per document
            self._total_of, self._total = p, sum(len(p.keys[i]) for i in p.content_units)
        total = self._total
        if not total or not other_total:
            return None
        if not rescue and self._content_ids.isdisjoint(clusters) and (
                self.config.document_threshold > 0):
            return None  # nothing in common, the usual LSH candidate: similarity 0, in C
        matched = 0.0
        found: dict[int, float] = {}  # the other document's clusters matched, and how well
        left: list[int] = []  # (only a rescue needs the units left over)
        for i, cluster_id, weight, similarity in self._content:
            if cluster_id in clusters:
                matched += weight
                found[cluster_id] = max(found.get(cluster_id, 0.0), similarity)
            elif rescue:
                left.append(i)
        # Every one of the other document's clusters, matched or not: a unit found here only
        # must be found whatever else matched (cleaning the output again must agree).
        # (A rescue compares with this run's documents only: their clusters are all loaded.)
        rest = [c for c in clusters if c >= 0 and self.clusters[c].key] if rescue and left else []
        if rest:
            keys = [self.clusters[c].key for c in rest]
            scores = rf_process.cdist([p.keys[i] for i in left], keys,
                                      scorer=Indel.normalized_similarity,
                                      score_cutoff=self.config.unit_edit_threshold)
            for row, i in enumerate(left):
                for col in sorted(scores[row].nonzero()[0].tolist(), key=lambda c: -scores[row][c]):
                    if not self._verifier.vetoes(p.keys[i], keys[col], lenient=True):
                        sim = float(scores[row][col])
                        matched += len(p.keys[i]) * sim
                        found[rest[col]] = max(found.get(rest[col], 0.0), sim)
                        if self._matches.get(i) is None and sim > self._rescued.get(i, (0, 0.0))[1]:
                            self._rescued[i] = (rest[col], sim)
                        break
        share = matched / total
        other_share = sum(clusters[c] * sim for c, sim in found.items()) / other_total
        similarity = min(share, other_share)
        return similarity if similarity >= self.config.document_threshold else None

    def _find_long_units(self, p: Prepared) -> dict[int, Match | None]:
        """``long_units.find`` for the document's long units in one bulk lookup.

        ``find_many`` answers as one-by-one ``find`` calls with no adds in between, which is
        what _find_units needs (it looks everything up before the document adds anything).
        """
        units = [i for i, key in enumerate(p.keys)
                 if p.local_first[i] == i and p.matchable[i] and key and not p.short[i]]
        if not units:
            return {}
        self._items = units
        matches = self.long_units.find_many(p.unit_bands[units], [p.shingles(i) for i in units])
        return dict(zip(units, matches, strict=True))

    def is_boilerplate(self, cluster: Cluster, group: str | None) -> bool:
        cfg = self.config
        return (
            cfg.drop_boilerplate
            and cluster.leader_chars <= cfg.boilerplate_max_chars
            and cluster.doc_count(group) >= cfg.boilerplate_min_docs
        )

    def finalize(self, p: Prepared, placement: Placement) -> Result:
        """The document's result: clean text and one audit record per removal."""
        doc = p.document
        if p.passed == "bad_input" and self.config.on_error == "skip":
            skipped = Removal(doc.id, "skipped_bad_input", doc.text, doc.source, None,
                              detail=doc.error, group=doc.group)
            return Result(doc, None, (skipped,))
        if p.passed is not None:
            reason = "passed_oversize" if p.passed == "oversize" else "passed_bad_input"
            detail = doc.error or f"document has {len(doc.text)} characters"
            return Result(doc, doc.text, (Removal(doc.id, reason, "", doc.source, None,
                                                  detail=detail, group=doc.group),), passed=True)
        if placement.duplicate_of is not None:
            removal = Removal(doc.id, "near_duplicate_document", p.text, doc.source, None,
                              duplicate_of=placement.duplicate_of,
                              similarity=placement.similarity, group=doc.group)
            return Result(doc, None, (removal,), p.repairs, units=len(p.spans))
        removals: dict[int, Removal] = {}
        for i in range(len(p.spans)):
            unit_removal = self._unit_removal(p, placement, i)
            if unit_removal is not None:
                removals[i] = unit_removal
        if len(removals) == len(p.spans):
            empty = Removal(doc.id, "empty_after_cleaning", "", doc.source, None, group=doc.group)
            return Result(doc, None, (*removals.values(), empty), p.repairs, units=len(p.spans))
        text = render(p.lines, p.spans, removals.keys()) if removals else _trimmed(p)
        return Result(doc, text, tuple(removals.values()), p.repairs, units=len(p.spans))

    def _unit_removal(self, p: Prepared, placement: Placement, i: int) -> Removal | None:
        cfg = self.config
        doc = p.document
        first = p.local_first[i]
        placed = placement.clusters.get(first)
        cluster = self.clusters[placed[0]] if placed is not None else None

        def base() -> Removal:  # built only for a removal: most units are kept
            return Removal(doc.id, "", unit_text(p.lines, p.spans[i]), doc.source,
                           p.position(i), group=doc.group)

        if cluster is not None and placed is not None and self.is_boilerplate(cluster, doc.group):
            similarity = placed[1] if first == i else p.local_similarity[i]
            return replace(base(), reason="boilerplate", similarity=similarity,
                           duplicate_of=Ref(cluster.leader_doc, cluster.leader_position),
                           doc_count=cluster.doc_count(doc.group))
        if first != i:
            if not cfg.drop_repeated_in_document:
                return None
            return replace(base(), reason="repeated_in_document", role=guess_role(p, i, first),
                           duplicate_of=Ref(doc.id, p.position(first)),
                           similarity=p.local_similarity[i])
        if (cluster is not None and placed is not None and cfg.drop_duplicated_content
                and cluster.leader_ordinal != doc.ordinal):
            return replace(base(), reason="duplicated_content", role=guess_role(p, i, first),
                           duplicate_of=Ref(cluster.leader_doc, cluster.leader_position),
                           similarity=placed[1])
        if cfg.drop_contained and i in p.contained:  # dedupe/containment.py
            container, similarity = p.contained[i]
            return replace(base(), reason="repeated_in_document",
                           role="headline" if i == 0 else guess_role(p, i, i),
                           duplicate_of=Ref(doc.id, p.position(container)),
                           similarity=similarity, detail="contained in a longer unit")
        return None


def _trimmed(p: Prepared) -> str:
    """Nothing removed: the repaired text with the same layout rules as a rendered one."""
    return render(p.lines, p.spans, ())
