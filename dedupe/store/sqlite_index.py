"""The embedded index: one SQLite file (stdlib sqlite3), WAL journal, one transaction per run.

A writing run opens ``BEGIN IMMEDIATE`` when it starts and commits when it ends, so a second
writer is refused at once (one writer at a time: keep-first decisions depend on everything
committed before), readers keep reading a consistent snapshot meanwhile, and a run that is
killed leaves the file as it was (SQLite drops an uncommitted transaction on the next open).

Band keys are unsigned 64-bit; SQLite integers are signed, so they are stored as the signed
value with the same bits.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from dedupe.store.base import (
    BandKey,
    ClusterRow,
    Delta,
    DocumentRow,
    Group,
    IndexStore,
    Meta,
    StoreError,
    Table,
    block_keys,
    shingles_from,
)

#: Seconds a writer waits for another writer's lock before giving up. Short: the other run
#: holds it for its whole duration, so waiting longer rarely helps.
LOCK_WAIT = 5.0

_MASK = (1 << 64) - 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY, at TEXT NOT NULL, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    seq INTEGER PRIMARY KEY, doc_id TEXT NOT NULL, run INTEGER NOT NULL, shingles BLOB NOT NULL,
    content TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS document_bands (
    key INTEGER NOT NULL, band INTEGER NOT NULL, seq INTEGER NOT NULL,
    PRIMARY KEY (key, band, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS clusters (
    id INTEGER PRIMARY KEY, leader_seq INTEGER NOT NULL, doc_id TEXT NOT NULL,
    position INTEGER NOT NULL, text TEXT NOT NULL, key TEXT NOT NULL, short INTEGER NOT NULL,
    run INTEGER NOT NULL, shingles BLOB);
CREATE UNIQUE INDEX IF NOT EXISTS clusters_short_key ON clusters (key) WHERE short = 1;
CREATE TABLE IF NOT EXISTS unit_bands (
    key INTEGER NOT NULL, band INTEGER NOT NULL, cluster INTEGER NOT NULL,
    PRIMARY KEY (key, band, cluster)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS short_blocks (
    block TEXT NOT NULL, cluster INTEGER NOT NULL, PRIMARY KEY (block, cluster)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS cluster_docs (
    cluster INTEGER NOT NULL, grp TEXT, docs INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS cluster_docs_by_cluster ON cluster_docs (cluster);
"""

_BANDS = {"doc": ("document_bands", "seq"), "unit": ("unit_bands", "cluster")}


def _signed(key: int) -> int:
    return key - (1 << 64) if key >= 1 << 63 else key


def _json_list(values: Sequence[Any]) -> str:
    return json.dumps(list(values), ensure_ascii=False)


class SQLiteIndex(IndexStore):
    """A persistent index in one SQLite file."""

    kind = "sqlite"

    def __init__(self, path: str, *, create: bool = False) -> None:
        self.spec = path
        if os.path.isdir(path):
            raise StoreError(f"{path}: is a directory, not an index file")
        if not create and not os.path.exists(path):
            raise StoreError(f"{path}: no index there")
        try:
            self._db = sqlite3.connect(path, isolation_level=None, timeout=LOCK_WAIT)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")  # one fsync per run: the commit
            self._db.execute("PRAGMA cache_size=-65536")  # 64 MiB
        except sqlite3.Error as exc:
            raise StoreError(f"{path}: cannot open as an index ({exc})") from None

    def close(self) -> None:
        self._db.close()

    def _tables(self) -> set[str]:
        try:
            rows = self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            return {name for (name,) in rows}
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.spec}: not a dedupe index ({exc})") from None

    # -- a run ----------------------------------------------------------------------------------

    def start(self, write: bool) -> Meta | None:
        try:
            self._db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise StoreError(f"{self.spec}: another run is writing to this index (one writer "
                                 "at a time); run again when it has finished") from None
            raise StoreError(f"{self.spec}: cannot start a run ({exc})") from None
        try:
            if write and "meta" not in self._tables():
                for statement in SCHEMA.split(";"):  # not executescript: it would COMMIT
                    if statement.strip():
                        self._db.execute(statement)
            return self.read_meta()
        except BaseException:
            self.rollback()
            raise

    def keep_alive(self) -> None:
        """Nothing to renew: SQLite's lock lasts as long as the transaction."""

    def rollback(self) -> None:
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")

    def commit(self, delta: Delta) -> None:
        db = self._db
        run = delta.meta.runs
        try:
            db.executemany("INSERT INTO documents (seq, doc_id, run, shingles, content) "
                           "VALUES (?, ?, ?, ?, ?)",
                           ((d.seq, d.doc_id, run, d.shingles.astype("<u4").tobytes(),
                             json.dumps(d.content)) for d in delta.documents))
            # Band rows in key order: B-tree inserts then touch each page once, not at random.
            db.executemany("INSERT INTO document_bands (key, band, seq) VALUES (?, ?, ?)",
                           sorted((_signed(key), band, d.seq) for d in delta.documents
                                  for band, key in enumerate(d.keys.tolist())))
            db.executemany(
                "INSERT INTO clusters (id, leader_seq, doc_id, position, text, key, short, run, "
                "shingles) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                ((c.id, c.leader_seq, c.doc_id, c.position, c.text, c.key, int(c.short), run,
                  None if c.shingles is None else c.shingles.astype("<u4").tobytes())
                 for c in delta.clusters))
            db.executemany("INSERT INTO unit_bands (key, band, cluster) VALUES (?, ?, ?)",
                           sorted((_signed(key), band, c.id) for c in delta.clusters
                                  if c.keys is not None
                                  for band, key in enumerate(c.keys.tolist())))
            db.executemany("INSERT INTO short_blocks (block, cluster) VALUES (?, ?)",
                           ((block, c.id) for c in delta.clusters if c.short
                            for block in sorted(set(block_keys(c.key)))))
            db.executemany("INSERT INTO cluster_docs (cluster, grp, docs) VALUES (?, ?, ?)",
                           ((c.id, g, n) for c in delta.clusters for g, n in c.counts.items()))
            counted = [(cid, g, n) for cid, counts in delta.counts.items()
                       for g, n in counts.items()]
            db.executemany("UPDATE cluster_docs SET docs = docs + ? WHERE cluster = ? AND grp IS ?",
                           ((n, cid, g) for cid, g, n in counted if g in delta.counted[cid]))
            db.executemany("INSERT INTO cluster_docs (cluster, grp, docs) VALUES (?, ?, ?)",
                           ((cid, g, n) for cid, g, n in counted if g not in delta.counted[cid]))
            db.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                           delta.meta.as_strings().items())
            db.execute("INSERT INTO runs (id, at, record) VALUES (?, ?, ?)",
                       (delta.run["id"], delta.run["at"], json.dumps(delta.run)))
            db.execute("COMMIT")
        except BaseException:
            self.rollback()
            raise

    # -- reads ----------------------------------------------------------------------------------

    def read_meta(self) -> Meta | None:
        if "meta" not in self._tables():
            return None
        values = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
        return Meta.from_strings(values, self.spec) if values else None

    def members(self, table: Table, pairs: Sequence[BandKey]) -> dict[BandKey, list[int]]:
        name, column = _BANDS[table]
        wanted = set(pairs)
        out: dict[BandKey, list[int]] = {}
        keys = sorted({_signed(key) for _, key in pairs})
        rows = self._db.execute(
            f"SELECT key, band, {column} FROM {name} "  # the names are constants
            "WHERE key IN (SELECT value FROM json_each(?))", (_json_list(keys),))
        for key, band, leader in rows:
            pair = (band, key & _MASK)
            if pair in wanted:
                out.setdefault(pair, []).append(leader)
        for leaders in out.values():
            leaders.sort()
        return out

    def document_rows(self, seqs: Sequence[int]) -> dict[int, DocumentRow]:
        rows = self._db.execute("SELECT seq, doc_id, shingles, content FROM documents WHERE seq "
                                "IN (SELECT value FROM json_each(?))", (_json_list(seqs),))
        return {seq: DocumentRow(doc_id, shingles_from(blob),
                                 [(c, n) for c, n in json.loads(content)])
                for seq, doc_id, blob, content in rows}

    def unit_sets(self, ids: Sequence[int]) -> dict[int, tuple[np.ndarray, str]]:
        rows = self._db.execute("SELECT id, shingles, key FROM clusters WHERE shingles IS NOT "
                                "NULL AND id IN (SELECT value FROM json_each(?))",
                                (_json_list(ids),))
        return {cid: (shingles_from(blob), key) for cid, blob, key in rows}

    def short_exact(self, keys: Sequence[str]) -> dict[str, int]:
        rows = self._db.execute("SELECT key, id FROM clusters WHERE short = 1 AND key IN "
                                "(SELECT value FROM json_each(?))", (_json_list(keys),))
        return dict(rows.fetchall())

    def short_blocks(self, blocks: Sequence[str]) -> dict[str, list[tuple[int, str]]]:
        rows = self._db.execute(
            "SELECT b.block, c.id, c.key FROM short_blocks b JOIN clusters c "
            "ON c.id = b.cluster WHERE b.block IN (SELECT value FROM json_each(?)) ORDER BY c.id",
            (_json_list(blocks),))
        out: dict[str, list[tuple[int, str]]] = {}
        for block, cid, key in rows:
            out.setdefault(block, []).append((cid, key))
        return out

    def cluster_rows(self, ids: Sequence[int]) -> dict[int, ClusterRow]:
        param = (_json_list(ids),)
        counts: dict[int, dict[Group, int]] = {}
        for cid, group, docs in self._db.execute(
                "SELECT cluster, grp, docs FROM cluster_docs "
                "WHERE cluster IN (SELECT value FROM json_each(?))", param):
            counts.setdefault(cid, {})[group] = docs
        rows = self._db.execute("SELECT id, leader_seq, doc_id, position, text, key FROM clusters "
                                "WHERE id IN (SELECT value FROM json_each(?))", param)
        return {cid: ClusterRow(cid, seq, doc_id, position, text, key, counts.get(cid, {}))
                for cid, seq, doc_id, position, text, key in rows}

    # -- administration -------------------------------------------------------------------------

    def run_records(self) -> list[dict[str, Any]]:
        if "runs" not in self._tables():
            return []
        return [json.loads(record) for (record,) in
                self._db.execute("SELECT record FROM runs ORDER BY id")]

    def dump_entries(self) -> Iterator[list[Any]]:
        if "documents" not in self._tables():
            return
        db = self._db
        bands = _grouped(db.execute("SELECT seq, band, key FROM document_bands "
                                    "ORDER BY seq, band, key"))
        for seq, doc_id, run, blob, content in db.execute(
                "SELECT seq, doc_id, run, shingles, content FROM documents ORDER BY seq"):
            yield ["document", seq, doc_id, run, bytes(blob).hex(),
                   sorted([b, k & _MASK] for b, k in bands.take(seq)), json.loads(content)]
        yield from (["orphan", "document band", leader, row] for leader, row in bands.rest())
        unit_bands = _grouped(db.execute("SELECT cluster, band, key FROM unit_bands "
                                         "ORDER BY cluster, band, key"))
        blocks = _grouped(db.execute("SELECT cluster, block FROM short_blocks "
                                     "ORDER BY cluster, block"))
        counts = _grouped(db.execute("SELECT cluster, grp, docs FROM cluster_docs "
                                     "ORDER BY cluster, grp IS NOT NULL, grp"))
        for cid, seq, doc_id, position, text, key, short, run, blob in db.execute(
                "SELECT id, leader_seq, doc_id, position, text, key, short, run, shingles "
                "FROM clusters ORDER BY id"):
            yield ["cluster", cid, seq, doc_id, position, text, key, bool(short), run,
                   None if blob is None else bytes(blob).hex(),
                   sorted([b, k & _MASK] for b, k in unit_bands.take(cid)),
                   [b for (b,) in blocks.take(cid)], [[g, n] for g, n in counts.take(cid)]]
        for what, rows in (("unit band", unit_bands), ("short block", blocks),
                           ("cluster count", counts)):
            yield from (["orphan", what, leader, row] for leader, row in rows.rest())

    def size_bytes(self) -> int:
        return sum(os.path.getsize(p) for p in (self.spec, self.spec + "-wal")
                   if os.path.exists(p))

    def table_counts(self) -> dict[str, int]:
        if "meta" not in self._tables():
            return {}
        one = self._db.execute
        return {
            "documents": one("SELECT count(*) FROM documents").fetchone()[0],
            "document_bands": one("SELECT count(*) FROM document_bands").fetchone()[0],
            "long_clusters": one("SELECT count(*) FROM clusters WHERE short = 0").fetchone()[0],
            "short_clusters": one("SELECT count(*) FROM clusters WHERE short = 1").fetchone()[0],
            "unit_bands": one("SELECT count(*) FROM unit_bands").fetchone()[0],
            "short_blocks": one("SELECT count(*) FROM short_blocks").fetchone()[0],
            "cluster_counts": one("SELECT count(*) FROM cluster_docs").fetchone()[0],
            "runs": one("SELECT count(*) FROM runs").fetchone()[0],
        }

    def top_units(self, per_group: int, max_chars: int, min_docs: int
                  ) -> dict[Group, list[dict[str, Any]]]:
        if "meta" not in self._tables():
            return {}
        rows = self._db.execute(
            "SELECT grp, docs, text, doc_id, position FROM ("
            " SELECT d.grp, d.docs, c.text, c.doc_id, c.position, ROW_NUMBER() OVER ("
            "  PARTITION BY d.grp ORDER BY d.docs DESC, c.id) AS rank"
            " FROM cluster_docs d JOIN clusters c ON c.id = d.cluster"
            " WHERE d.docs >= ? AND length(c.text) <= ?)"
            " WHERE rank <= ? ORDER BY grp IS NOT NULL, grp, rank",
            (min_docs, max_chars, per_group))
        out: dict[Group, list[dict[str, Any]]] = {}
        for group, docs, text, doc_id, position in rows:
            out.setdefault(group, []).append({"text": text, "documents": docs,
                                              "first": {"doc_id": doc_id, "position": position}})
        return out

    def storage_problems(self) -> list[str]:
        try:
            result = [row[0] for row in self._db.execute("PRAGMA integrity_check")]
        except sqlite3.DatabaseError as exc:
            return [f"SQLite integrity check failed: {exc}"]
        return [] if result == ["ok"] else [f"SQLite: {line}" for line in result]

    def compact(self) -> dict[str, int]:
        before = self.size_bytes()
        meta = self.start(write=True)
        if meta is None:
            self.rollback()
            raise StoreError(f"{self.spec}: no index there")
        db = self._db
        removed: dict[str, int] = {}
        try:
            for what, sql in (
                ("document bands", "DELETE FROM document_bands WHERE seq NOT IN "
                                   "(SELECT seq FROM documents)"),
                ("unit bands", "DELETE FROM unit_bands WHERE cluster NOT IN "
                               "(SELECT id FROM clusters)"),
                ("short blocks", "DELETE FROM short_blocks WHERE cluster NOT IN "
                                 "(SELECT id FROM clusters)"),
                ("cluster counts", "DELETE FROM cluster_docs WHERE docs <= 0 OR cluster NOT IN "
                                   "(SELECT id FROM clusters)"),
            ):
                removed[what] = db.execute(sql).rowcount
            documents, max_seq = db.execute("SELECT count(*), max(seq) FROM documents").fetchone()
            clusters, max_id = db.execute("SELECT count(*), max(id) FROM clusters").fetchone()
            meta.documents, meta.clusters = documents, clusters
            meta.next_seq = max(meta.next_seq, (max_seq if max_seq is not None else -1) + 1)
            meta.next_cluster = max(meta.next_cluster, (max_id if max_id is not None else -1) + 1)
            db.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                           meta.as_strings().items())
            db.execute("COMMIT")
        except BaseException:
            self.rollback()
            raise
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.execute("VACUUM")
        db.execute("PRAGMA optimize")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        removed["bytes before"] = before
        removed["bytes after"] = self.size_bytes()
        return removed


class _grouped:  # a small helper, used like a function
    """Rows ordered by their first column, taken group by group in ascending order (a merge
    join with another ordered cursor); groups never taken are left for ``rest``."""

    def __init__(self, rows: Iterator[tuple[Any, ...]]) -> None:
        self._rows = iter(rows)
        self._next: tuple[Any, ...] | None = next(self._rows, None)
        self._skipped: list[tuple[Any, tuple[Any, ...]]] = []

    def take(self, leader: Any) -> list[tuple[Any, ...]]:
        out = []
        while self._next is not None and self._next[0] <= leader:
            if self._next[0] == leader:
                out.append(self._next[1:])
            else:
                self._skipped.append((self._next[0], self._next[1:]))
            self._next = next(self._rows, None)
        return out

    def rest(self) -> Iterator[tuple[Any, tuple[Any, ...]]]:
        yield from self._skipped
        while self._next is not None:
            yield self._next[0], self._next[1:]
            self._next = next(self._rows, None)
