"""One run against a persistent index: the past as the Decider sees it, the run's additions.

``IndexRun`` is what ``policy.Decider`` takes as its ``history``. Its three parts answer the
Decider's index lookups from the stored leaders, exactly as ``index.LongIndex`` and
``index.ShortIndex`` would answer them had the stored leaders been added to them first (same
candidates, the same verification callbacks, ties to the earliest), and hear every leader the
run adds. Stored leaders carry what verification needs (a cluster's match key, a document's
content clusters), so the Decider verifies them as it verifies its own. Older answers win ties,
so that cleaning batch 2 against an index of batch 1 decides as one streaming run over batches
1 and 2 would.

Nothing is written while the run goes: the additions stay in the Decider's in-memory indexes
and are written by ``commit`` in one transaction. The stored past does not change during a run
(a writer holds the index's lock), so lookups for a whole chunk of documents are fetched ahead
in a few bulk queries (``read_ahead``) instead of one round trip per unit.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from dedupe.config import Config
from dedupe.index import LongIndex, Match, ShortIndex, Verify, VerifyMany, best_verified
from dedupe.lsh import SetStore, flatten
from dedupe.model import Ref
from dedupe.store.base import (
    FORMAT,
    ClusterRow,
    Delta,
    DocumentRow,
    Group,
    IndexStore,
    Meta,
    NewCluster,
    NewDocument,
    SettingsMismatch,
    StoreError,
    Table,
    block_keys,
    fingerprint_probe,
    index_settings,
    settings_difference,
)

if TYPE_CHECKING:
    from dedupe.policy import Cluster, Decider
    from dedupe.prepare import Prepared

#: Documents whose lookups are fetched together (prepare_all works in chunks of this size).
READ_AHEAD_DOCS = 64


@dataclass(frozen=True)
class StoredLeader:
    """A unit cluster found in the index (not an int: the Decider's own clusters are ints),
    with its leader's match key, which verification compares like a Cluster's ``key``."""

    id: int
    key: str = ""


@dataclass(frozen=True)
class StoredDocument(Ref):
    """A document leader found in the index: the Ref the audit names, and where it is."""

    seq: int = -1


class IndexRun:
    """A run against an index: ``history`` for the Decider, then ``commit`` or ``rollback``.

    Use as a context manager; leaving it without ``commit`` rolls back (and releases the
    writer's lock). ``read_only`` runs never write.
    """

    def __init__(self, store: IndexStore, config: Config, *, read_only: bool = False) -> None:
        self.store = store
        self.config = config
        self.read_only = read_only
        recorded = store.start(write=not read_only)
        self._open = True
        try:
            self._check(recorded)
        except BaseException:
            self.rollback()
            raise
        self.created = recorded is None
        self.meta = recorded or Meta(settings=index_settings(config),
                                     probe=fingerprint_probe(config),
                                     created=_dt.datetime.now(_dt.timezone.utc).isoformat())
        self.base = self.meta.next_seq  # this run's ordinal 0 is the index's document `base`
        self.documents = _LongHistory(self, "doc", config.document_threshold)
        self.long_units = _LongHistory(self, "unit", config.unit_threshold)
        self.short_units = _ShortHistory(self, config.short_unit_threshold)
        self._local: dict[int, int] = {}  # stored cluster id -> index in the Decider's clusters
        self._seen = 0  # documents this run has read (every one takes a run position)
        self._decider: Decider | None = None
        self._reset_cache()

    # -- checks -------------------------------------------------------------------------------

    def _check(self, recorded: Meta | None) -> None:
        where = self.store.spec
        if recorded is None:
            if self.read_only:
                raise StoreError(f"{where}: no index there yet (build one with `dedupe index "
                                 "build` or a `dedupe clean --index` run without --read-only)")
            return
        if recorded.format != FORMAT:
            raise StoreError(f"{where}: index format {recorded.format!r}, this dedupe reads "
                             f"{FORMAT!r}; rebuild the index")
        differences = settings_difference(recorded.settings, index_settings(self.config))
        if differences:
            raise SettingsMismatch(
                f"{where}: settings differ from the index's, so fingerprints would not compare: "
                f"{'; '.join(differences)}. Use the index's settings, or a new index")
        if recorded.probe != fingerprint_probe(self.config):
            raise SettingsMismatch(
                f"{where}: this dedupe fingerprints text differently from the one that built the "
                "index (normalization or hashing changed); rebuild the index")

    # -- the History protocol (policy.Decider) --------------------------------------------------

    def indexes(self) -> tuple[LongIndex, LongIndex, ShortIndex]:
        """The Decider's three indexes, each answering from the stored past and this run."""
        cfg = self.config
        return (_PastLongIndex(cfg.document_threshold, self.documents),
                _PastLongIndex(cfg.unit_threshold, self.long_units),
                _PastShortIndex(cfg.short_unit_threshold, self.short_units))

    def cluster_id(self, leader: Hashable, clusters: list[Cluster]) -> int:
        """The index in `clusters` of a stored cluster, appended the first time it is found."""
        assert isinstance(leader, StoredLeader)
        return self._materialize([leader.id], clusters)[leader.id]

    def document_content(self, leader: Hashable, clusters: list[Cluster]
                         ) -> tuple[dict[int, int], int] | None:
        """A stored document's content units as the Decider keeps a kept document's: their
        clusters (indexes in `clusters`) with their characters, and the total."""
        if not isinstance(leader, StoredDocument):
            return None
        content = self._document_rows([leader.seq])[leader.seq].content
        out: dict[int, int] = {}
        for cid, chars in content:
            # A cluster no unit of this run has joined is not loaded (most are not: the
            # candidates of a low threshold are many): it can match nothing, and stands
            # under a negative id, which is no index in `clusters`.
            local = self._local.get(cid, -1 - cid)
            out[local] = out.get(local, 0) + chars
        return out, sum(out.values())

    def _materialize(self, ids: list[int], clusters: list[Cluster]) -> dict[int, int]:
        from dedupe.policy import Cluster

        missing = [cid for cid in ids if cid not in self._local]
        rows = self._cluster_rows(missing) if missing else {}
        for cid in missing:
            row = rows[cid]
            # Run positions of the past are negative: distinct from, and older than, this run's.
            clusters.append(Cluster(row.leader_seq - self.base, row.doc_id, row.position,
                                    row.text, key=row.key, earlier=dict(row.counts)))
            self._local[cid] = len(clusters) - 1
        return {cid: self._local[cid] for cid in ids}

    # -- the run ------------------------------------------------------------------------------

    def read_ahead(self, prepared: Iterable[Prepared]) -> Iterator[Prepared]:
        """The prepared documents, unchanged, with each chunk's lookups fetched in bulk first."""
        chunk: list[Prepared] = []
        for p in prepared:
            chunk.append(p)
            if len(chunk) >= READ_AHEAD_DOCS:
                yield from self._chunk(chunk)
                chunk = []
        if chunk:
            yield from self._chunk(chunk)

    def _chunk(self, chunk: list[Prepared]) -> Iterator[Prepared]:
        if not self.read_only:
            self.store.keep_alive()
        self._prefetch(chunk)
        for p in chunk:
            self._seen = max(self._seen, p.document.ordinal + 1)
            yield p

    def stage(self, decider: Decider) -> None:
        """Remember the Decider whose kept leaders and counts ``commit`` will write."""
        self._decider = decider

    def commit(self, inputs: Sequence[str] = ()) -> dict[str, Any]:
        """Write what the run kept, in one transaction; returns the run's record."""
        if self.read_only:
            raise RuntimeError("a read-only run cannot commit")
        if not self._open:
            raise RuntimeError("this run has ended")
        delta = self._delta(list(inputs))
        try:
            self.store.commit(delta)
        finally:
            self._open = False
        return delta.run

    def rollback(self) -> None:
        if self._open:
            self._open = False
            self.store.rollback()

    def __enter__(self) -> IndexRun:
        return self

    def __exit__(self, *exc: object) -> None:
        self.rollback()

    def _delta(self, inputs: list[str]) -> Delta:
        from dedupe.report import dedupe_version

        meta = Meta(**{**self.meta.__dict__})
        delta = Delta(meta=meta, run={}, created=self.created)
        decider = self._decider
        if decider is not None:
            stored = {local: sid for sid, local in self._local.items()}
            longs = {leader: (keys, shingles) for leader, keys, shingles in self.long_units.added}
            shorts = self.short_units.added
            next_id = meta.next_cluster
            for local, cluster in enumerate(decider.clusters):
                counts = cluster.counts()
                if local in stored:
                    if counts:
                        delta.counts[stored[local]] = counts
                        delta.counted[stored[local]] = set(cluster.earlier or ())
                    continue
                stored[local] = next_id
                key = shorts[local] if local in shorts else getattr(cluster, "key", "")
                new = NewCluster(next_id, self.base + cluster.leader_ordinal, cluster.leader_doc,
                                 cluster.leader_position, cluster.leader_text, key, counts,
                                 short=local in shorts)
                if not new.short:
                    new.keys, new.shingles = longs[local]
                delta.clusters.append(new)
                next_id += 1
            meta.next_cluster = next_id
            # The Decider's record of each kept document's content units (their clusters and
            # characters), which verifies near-duplicate documents; kept as stored cluster ids.
            contents = getattr(decider, "_doc_content", {})
            for leader, keys, shingles in self.documents.added:
                ordinal = int(leader)  # type: ignore[call-overload]
                content = contents.get(leader, ({}, 0))[0]
                delta.documents.append(NewDocument(
                    self.base + ordinal, decider.document_ref(leader).doc_id, keys, shingles,
                    sorted((stored[c], chars) for c, chars in content.items())))
        meta.next_seq = self.base + self._seen
        meta.documents += len(delta.documents)
        meta.clusters += len(delta.clusters)
        meta.runs += 1
        delta.run = {
            "id": meta.runs, "at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "dedupe": dedupe_version(), "inputs": inputs, "documents": self._seen,
            "new_documents": len(delta.documents), "new_clusters": len(delta.clusters),
            "updated_clusters": len(delta.counts),
        }
        return delta

    # -- fetching, cached per read-ahead chunk --------------------------------------------------

    def _reset_cache(self) -> None:
        self._candidates_cache: dict[Table, dict[bytes, np.ndarray]] = {"doc": {}, "unit": {}}
        self._documents_cache: dict[int, DocumentRow] = {}
        self._rows_cache: dict[int, ClusterRow] = {}
        self._exact_cache: dict[str, int | None] = {}
        self._blocks_cache: dict[str, list[tuple[int, str]]] = {}

    def _prefetch(self, chunk: list[Prepared]) -> None:
        """Every lookup the chunk's documents can make, in a few bulk queries."""
        self._reset_cache()
        doc_rows: list[np.ndarray] = []
        unit_rows: list[np.ndarray] = []
        shorts: set[str] = set()
        for p in chunk:
            if p.passed is not None or not p.spans:
                continue
            if self.config.drop_near_duplicate_documents and p.content.size:
                doc_rows.append(p.content_bands.reshape(1, -1))
            longs = []
            for i, key in enumerate(p.keys):
                if p.local_first[i] != i or not p.matchable[i] or not key:
                    continue
                if p.short[i]:
                    shorts.add(key)
                else:
                    longs.append(i)
            if longs:
                unit_rows.append(p.unit_bands[longs])
        documents = sorted({s for ids in self._candidates_of("doc", doc_rows) for s in ids})
        self._document_rows(documents)  # (their content verifies; their sets are kept below)
        self.documents.sets.rows(documents)
        units = self._candidates_of("unit", unit_rows)
        self.long_units.sets.rows(sorted({c for ids in units for c in ids}))
        exact = self._short_exact(sorted(shorts))
        fuzzy = {b for k in shorts if exact.get(k) is None for b in block_keys(k)}
        self._short_blocks(sorted(fuzzy))
        # The clusters an exact short key joins; a long unit's are read once it has matched.
        self._cluster_rows(sorted({c for c in exact.values() if c is not None}))

    def _candidates_of(self, table: Table, rows: list[np.ndarray]) -> list[list[int]]:
        """Fetch the stored leaders sharing a bucket with each row of band keys, in one query,
        and remember them by the row's bytes (``_candidates``); returns the non-empty lists.

        Vectorized: most rows share no bucket with the index, and cost no Python per key."""
        if not rows:
            return []
        keys = np.ascontiguousarray(np.concatenate(rows), dtype=np.uint64)
        bands = keys.shape[1]
        pairs = {(band, key) for band in range(bands) for key in keys[:, band].tolist()}
        found = self.store.members(table, sorted(pairs))
        by_band: list[dict[int, list[int]]] = [{} for _ in range(bands)]
        for (band, key), leaders in found.items():
            by_band[band][key] = leaders
        hits: dict[int, set[int]] = {}
        for band, leaders_of in enumerate(by_band):
            if not leaders_of:
                continue
            column = keys[:, band]
            for row in np.flatnonzero(np.isin(column, np.fromiter(leaders_of, np.uint64))).tolist():
                hits.setdefault(row, set()).update(leaders_of[int(column[row])])
        cache = self._candidates_cache[table]
        none = np.zeros(0, dtype=np.int64)
        for row in range(keys.shape[0]):
            row_hits = hits.get(row)
            cache[keys[row].tobytes()] = (none if row_hits is None else
                                          np.array(sorted(row_hits), dtype=np.int64))
        return [sorted(leaders) for leaders in hits.values()]

    def _candidates(self, table: Table, keys: np.ndarray) -> list[np.ndarray]:
        """Stored leaders sharing a bucket with each row of band keys, oldest first."""
        keys = np.ascontiguousarray(keys, dtype=np.uint64)
        cache = self._candidates_cache[table]
        missing = [row for row in keys if row.tobytes() not in cache]
        if missing:  # not read ahead (a Decider driven directly): fetch now
            self._candidates_of(table, [row.reshape(1, -1) for row in missing])
        return [cache[row.tobytes()] for row in keys]

    def _document_rows(self, seqs: Sequence[int]) -> dict[int, DocumentRow]:
        return _fetch(self._documents_cache, seqs, self.store.document_rows)

    def _cluster_rows(self, ids: Sequence[int]) -> dict[int, ClusterRow]:
        rows = _fetch(self._rows_cache, ids, self.store.cluster_rows)
        missing = [i for i in ids if i not in rows]
        if missing:
            raise StoreError(f"{self.store.spec}: unit cluster {missing[0]} is referenced but "
                             "missing; run `dedupe index verify`")
        return rows

    def _short_exact(self, keys: Sequence[str]) -> dict[str, int | None]:
        cache = self._exact_cache
        missing = [k for k in keys if k not in cache]
        if missing:
            found = self.store.short_exact(missing)
            for key in missing:
                cache[key] = found.get(key)
        return {k: cache[k] for k in keys}

    def _short_blocks(self, blocks: Sequence[str]) -> dict[str, list[tuple[int, str]]]:
        cache = self._blocks_cache
        missing = [b for b in blocks if b not in cache]
        if missing:
            found = self.store.short_blocks(missing)
            for block in missing:
                cache[block] = found.get(block, [])
        return {b: cache[b] for b in blocks}


def _fetch(cache: dict[int, Any], ids: Sequence[int], get: Any) -> dict[int, Any]:
    missing = [i for i in ids if i not in cache]
    if missing:
        cache.update(get(missing))
    return {i: cache[i] for i in ids if i in cache}


#: Stored leaders a run remembers at most (then all are forgotten, and read again as needed).
_STORED_MAX = 1_000_000
#: Memory their shingle sets take at most; beyond it they move to a temporary file (SetStore).
_SETS_MEMORY = 256 << 20

Admit = Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], np.ndarray]
Veto = Callable[[str, str], bool]
#: Stored id -> (its shingle set, what the Decider calls that leader).
Fetch = Callable[[list[int]], dict[int, tuple[np.ndarray, Hashable]]]


class _StoredSets:
    """The stored leaders a run has met, by row: their shingle sets in a ``lsh.SetStore``
    (as the run's own leaders' are), their names and stored ids alongside. Each is read from
    the index once, not once per chunk, and a lookup computes its Jaccards in place: a low
    candidate threshold meets a large share of a big index, so this, not the queries, is
    what keeps lookups cheap."""

    def __init__(self, fetch: Fetch, what: str) -> None:
        self._fetch = fetch
        self._what = what
        self._clear()

    def _clear(self) -> None:
        self.sets = SetStore(_SETS_MEMORY)
        self._row: dict[int, int] = {}
        self.names = np.empty(1 << 12, dtype=object)
        self.ids = np.zeros(1 << 12, dtype=np.int64)

    def rows(self, ids: Sequence[int]) -> np.ndarray:
        """The rows of these stored ids (read from the index if new to the run)."""
        missing = list(dict.fromkeys(i for i in ids if i not in self._row))
        if missing:
            if len(self._row) + len(missing) > _STORED_MAX:  # full: start again with these
                self.sets.close()
                self._clear()
                missing = list(dict.fromkeys(ids))
            fetched = self._fetch(missing)
            absent = [i for i in missing if i not in fetched]
            if absent:
                raise StoreError(f"{self._what} {absent[0]} is referenced but missing; run "
                                 "`dedupe index verify`")
            n = len(self._row)
            if n + len(missing) > self.names.size:
                grow = max(2 * self.names.size, n + len(missing))
                self.names, self.ids = np.resize(self.names, grow), np.resize(self.ids, grow)
            for i in missing:
                shingles, name = fetched[i]
                row = self.sets.append(np.asarray(shingles, dtype=np.uint32))
                self._row[i], self.names[row], self.ids[row] = row, name, i
        row_of = self._row
        return np.fromiter((row_of[i] for i in ids), dtype=np.int64, count=len(ids))


class _LongHistory:
    """Stored document leaders or long-unit clusters, answering like index.LongIndex."""

    def __init__(self, run: IndexRun, table: Table, threshold: float) -> None:
        self.run = run
        self.table: Table = table
        self.threshold = threshold
        self.added: list[tuple[Hashable, np.ndarray, np.ndarray]] = []
        fetch = self._documents if table == "doc" else self._units
        self.sets = _StoredSets(fetch, "document" if table == "doc" else "unit cluster")

    def find_many(self, keys: np.ndarray, sets: Sequence[np.ndarray],
                  verify: Verify | None = None, verify_many: VerifyMany | None = None,
                  admit: Admit | None = None, floor: float = 0.0) -> list[Match | None]:
        """Per item: the most similar stored leader that passes verification (``verify_many``
        for all candidate pairs at once, else ``verify`` pair by pair, else the threshold);
        ties go to the oldest. index.LongIndex.find_many's rule, callbacks (``admit``, the
        Jaccard ``floor``) and all."""
        rows = np.asarray(keys, dtype=np.uint64).reshape(len(sets), -1)
        found = self.run._candidates(self.table, rows)
        out: list[Match | None] = [None] * len(sets)
        counts = np.fromiter((c.size for c in found), dtype=np.int64, count=len(found))
        if not counts.sum():
            return out
        p_item = np.repeat(np.arange(len(found), dtype=np.int64), counts)
        store = self.sets
        distinct, at = np.unique(np.concatenate(found), return_inverse=True)
        p_row = store.rows(distinct.tolist())[at]
        q_data, q_off = flatten([np.asarray(s, dtype=np.uint32) for s in sets])
        if admit is not None:
            keep = admit(p_item, store.names[p_row], np.diff(q_off)[p_item],
                         store.sets.sizes(p_row))
            p_item, p_row = p_item[keep], p_row[keep]
        # Every pair's Jaccard in one compiled pass, read in place (dedupe.lsh), as LongIndex.
        sims = store.sets.jaccard(q_data, q_off, p_item, p_row, floor)
        # The same choice as LongIndex's; ties to the oldest (the lowest stored id).
        names = store.names[p_row]
        best, best_sims = best_verified(p_item, names, store.ids[p_row], sims, verify,
                                        verify_many, self.threshold)
        if self.table == "unit":  # the clusters joined are loaded next: read their rows now
            self.run._cluster_rows(store.ids[p_row[best]].tolist())
        for k, sim in zip(best.tolist(), best_sims.tolist(), strict=True):
            out[int(p_item[k])] = Match(names[k], sim)
        return out

    def record(self, leader: Hashable, keys: np.ndarray, shingles: np.ndarray) -> None:
        """A leader this run added: written by commit."""
        self.added.append((leader, keys, shingles))

    def _documents(self, seqs: list[int]) -> dict[int, tuple[np.ndarray, Hashable]]:
        """Stored documents as the Decider names them (by their Ref)."""
        return {s: (row.shingles, StoredDocument(row.doc_id, seq=s))
                for s, row in self.run._document_rows(seqs).items()}

    def _units(self, ids: list[int]) -> dict[int, tuple[np.ndarray, Hashable]]:
        """Stored long-unit clusters, named with their leader's match key."""
        return {c: (shingles, StoredLeader(c, key))
                for c, (shingles, key) in self.run.store.unit_sets(ids).items()}


class _ShortHistory:
    """Stored short-unit clusters, answering like index.ShortIndex (by running one over the
    stored keys that share a block with the query, in their original order)."""

    def __init__(self, run: IndexRun, threshold: float) -> None:
        self.run = run
        self.threshold = threshold
        self.added: dict[Hashable, str] = {}

    def find(self, key: str, veto: Veto | None = None) -> Match | None:
        exact = self.run._short_exact([key])[key]
        if exact is not None:
            return Match(StoredLeader(exact, key), 1.0)
        candidates = sorted({entry for block in self.run._short_blocks(block_keys(key)).values()
                             for entry in block})
        if not candidates:
            return None
        index = ShortIndex(self.threshold)
        index.veto = veto
        for cluster, other in candidates:
            index.add(StoredLeader(cluster, other), other)
        return index.find(key)

    def record(self, leader: Hashable, key: str) -> None:
        self.added[leader] = key


def older_first(older: Match | None, newer: Match | None) -> Match | None:
    """The better of a stored and a new match; equal similarity goes to the older (stored)
    one, as in one index where the stored leaders had been added first."""
    if older is None:
        return newer
    if newer is None or older.similarity >= newer.similarity:
        return older
    return newer


class _PastLongIndex(LongIndex):
    """index.LongIndex over this run's leaders, merged with the stored ones (older), under
    the same ``verify`` callback the Decider sets on it."""

    def __init__(self, threshold: float, past: _LongHistory) -> None:
        super().__init__(threshold)
        self.past = past

    def find(self, keys: np.ndarray, shingles: np.ndarray) -> Match | None:
        return self.find_many(np.asarray(keys).reshape(1, -1), [shingles])[0]

    def find_many(self, keys: np.ndarray, sets: Sequence[np.ndarray]) -> list[Match | None]:
        floor = self.jaccard_floor if self.verify or self.verify_many else 0.0
        older = self.past.find_many(keys, sets, self.verify, self.verify_many, self.admit, floor)
        return [older_first(o, n) for o, n in zip(older, super().find_many(keys, sets),
                                                   strict=True)]

    def add(self, leader: Hashable, keys: np.ndarray, shingles: np.ndarray) -> None:
        super().add(leader, keys, shingles)
        self.past.record(leader, keys, shingles)


class _PastShortIndex(ShortIndex):
    """index.ShortIndex over this run's leaders, merged with the stored ones (older), under
    the same ``veto`` the Decider sets on it."""

    def __init__(self, threshold: float, past: _ShortHistory) -> None:
        super().__init__(threshold)
        self.past = past

    def find(self, key: str) -> Match | None:
        return older_first(self.past.find(key, self.veto), super().find(key))

    def add(self, leader: Hashable, key: str) -> None:
        super().add(leader, key)
        self.past.record(leader, key)


def group_counts(counts: dict[Group, int]) -> list[list[Any]]:
    """Counts as sorted [group, n] pairs (no group first): the stored and dumped form."""
    return [[g, n] for g, n in sorted(counts.items(), key=lambda gc: (gc[0] is not None,
                                                                       gc[0] or ""))]
