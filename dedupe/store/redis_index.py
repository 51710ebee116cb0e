"""The shared index: Redis (``redis://host:port/db``, optional ``?prefix=NAME``, default
``dedupe``), for several machines cleaning against one history.

Why not datasketch's ``MinHashLSH(storage_config={'type': 'redis'})``: dedupe already computes
its band keys (in bulk, datasketch's band parameters) and keeps no per-unit signature to hand
to ``insert``; datasketch's insertion session flushes its buffer every 50,000 commands, each
flush its own transaction, so a killed run would leave part of a batch behind; and it keeps one
Redis set (plus a registry entry) per bucket, about 100 bytes a bucket. So the band keys are
stored here directly, in datasketch's bucket model (one bucket per band and key, holding the
leaders), packed into hashes ("pages": a bucket is a field of page ``key mod 2**18``) that
Redis keeps in its compact listpack encoding: about a fifth of the memory of set-per-bucket.

Layout (every key starts with the hash tag ``{prefix}``, so all of them live in one Redis
Cluster slot and one MULTI/EXEC can write them together):

=====================  =====================================================================
``{p}:meta``            hash: format, settings, fingerprint probe, counters
``{p}:runs``            list: one JSON record per committed run
``{p}:db:<page>``       hash: band byte + 8-byte key -> "seq,seq,..." (document leaders)
``{p}:ub:<page>``       hash: band byte + 8-byte key -> "id,id,..." (long-unit clusters)
``{p}:doc``             hash: seq -> run, document id and content shingle set (packed)
``{p}:cm``              hash: cluster id -> JSON: leader seq, doc id, position, text, run,
                        short key, document counts per group
``{p}:cs``              hash: cluster id -> the long leader's shingle set (uint32 LE)
``{p}:sk``              hash: short key -> cluster id
``{p}:sb:<block>``      list: "id:key" of the short clusters in that block, in id order
``{p}:lock``            the writer's lock (redis-py Lock, renewed while the run goes)
=====================  =====================================================================

A run's writes are one MULTI/EXEC, prepared under WATCH on the header: if another writer
committed in between (the lock makes that rare), nothing is written and the run fails. A run
killed at any point leaves the index as it was (a MULTI without EXEC is discarded when its
connection closes); its lock expires after ``LOCK_TTL`` seconds.
"""

from __future__ import annotations

import contextlib
import functools
import json
import struct
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

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
from dedupe.store.run import group_counts

PAGES = 1 << 18  # pages per band table: listpack-sized (<= 128 fields) up to ~33M buckets
LOCK_TTL = 60  # seconds; renewed every chunk of documents, so only a dead run's lock expires
_CHUNK = 5000  # fields per HSET/HMGET command
_DOC_HEADER = struct.Struct("<III")  # run, bytes of the document id, bytes of its content

_F = TypeVar("_F", bound=Callable[..., Any])

#: HGET of many (page, field) pairs in one call: KEYS[i] is the page of ARGV[i].
_LOOKUP = """
local out = {}
for i = 1, #KEYS do out[i] = redis.call('HGET', KEYS[i], ARGV[i]) end
return out
"""
#: Append leaders to buckets: field ARGV[2i-1] of page KEYS[i] gets ",ARGV[2i]" (or is set).
_APPEND = """
for i = 1, #KEYS do
  local field, add = ARGV[2 * i - 1], ARGV[2 * i]
  local old = redis.call('HGET', KEYS[i], field)
  if old then add = old .. ',' .. add end
  redis.call('HSET', KEYS[i], field, add)
end
return #KEYS
"""


def _guarded(method: _F) -> _F:
    """Turn Redis client errors (server down, timeout, wrong type) into one-line StoreErrors."""

    @functools.wraps(method)
    def wrapper(self: RedisIndex, *args: Any, **kwargs: Any) -> Any:
        import redis

        try:
            return method(self, *args, **kwargs)
        except redis.exceptions.WatchError:
            raise StoreError(f"{self.spec}: another run committed to the index while this one "
                             "ran; nothing was written, run again") from None
        except redis.exceptions.RedisError as exc:
            raise StoreError(f"{self.spec}: Redis error: {exc}") from None

    return wrapper  # type: ignore[return-value]


def parse_url(url: str) -> tuple[str, str, str]:
    """(connection URL without our parameters, key prefix, URL safe to print)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    prefix = next((v for k, v in query if k == "prefix"), "dedupe")
    if not prefix or any(c in prefix for c in "{}"):
        raise StoreError(f"{url}: prefix must be non-empty and without braces")
    rest = urlencode([(k, v) for k, v in query if k != "prefix"])
    connect = urlunsplit((parts.scheme, parts.netloc, parts.path, rest, parts.fragment))
    shown = parts.netloc.rsplit("@", 1)[-1]
    printable = urlunsplit((parts.scheme, shown, parts.path, parts.query, ""))
    return connect, prefix, printable


def _field(band: int, key: int) -> bytes:
    return bytes((band,)) + key.to_bytes(8, "big")


def _pair(field: bytes) -> BandKey:
    return field[0], int.from_bytes(field[1:9], "big")


def _ids(value: bytes | None) -> list[int]:
    return [int(v) for v in value.split(b",")] if value else []


def _glob_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


class RedisIndex(IndexStore):
    """A persistent index in Redis, shared by every run that names the same URL and prefix."""

    kind = "redis"

    def __init__(self, url: str) -> None:
        try:
            import redis
        except ImportError:  # pragma: no cover - the redis extra is not installed
            raise StoreError(f"{url}: a Redis index needs the redis package "
                             "(pip install 'dedupe-text[redis]')") from None
        connect, prefix, self.spec = parse_url(url)
        self.prefix = prefix
        try:
            self._r: Any = redis.Redis.from_url(connect, socket_timeout=120,
                                                socket_connect_timeout=10)
            self._r.ping()
        except (redis.exceptions.RedisError, ValueError) as exc:
            raise StoreError(f"{self.spec}: cannot connect to Redis ({exc})") from None
        self._lock: Any = None
        self._snapshot: dict[bytes, bytes] | None = None
        self._lookup = self._r.register_script(_LOOKUP)

    def _key(self, *parts: str | int) -> str:
        return ":".join(["{" + self.prefix + "}", *map(str, parts)])

    def _page(self, table: Table, key: int) -> str:
        return self._key("db" if table == "doc" else "ub", key & (PAGES - 1))

    def close(self) -> None:
        self.rollback()
        self._r.close()

    # -- a run ----------------------------------------------------------------------------------

    @_guarded
    def start(self, write: bool) -> Meta | None:
        if write:
            self._lock = self._r.lock(self._key("lock"), timeout=LOCK_TTL, blocking=False,
                                      thread_local=False)
            if not self._lock.acquire():
                self._lock = None
                ttl = self._r.ttl(self._key("lock"))
                raise StoreError(f"{self.spec}: another run is writing to this index (one writer "
                                 f"at a time); its lock expires in {ttl} s if that run died")
        self._snapshot = self._r.hgetall(self._key("meta"))
        return self._meta(self._snapshot)

    @_guarded
    def keep_alive(self) -> None:
        import redis

        if self._lock is None:
            return
        try:
            self._lock.reacquire()
        except redis.exceptions.LockError:  # expired (a stall longer than LOCK_TTL): retake it
            if not self._lock.acquire():
                raise StoreError(f"{self.spec}: this run lost the index lock to another run; "
                                 "nothing was written, run again") from None

    def rollback(self) -> None:
        if self._lock is not None:
            lock, self._lock = self._lock, None
            with contextlib.suppress(Exception):  # expired, or the connection is gone
                lock.release()
        self._snapshot = None

    @_guarded
    def commit(self, delta: Delta) -> None:
        try:
            with self._r.pipeline(transaction=True) as pipe:
                pipe.watch(self._key("meta"))
                if pipe.hgetall(self._key("meta")) != (self._snapshot or {}):
                    raise StoreError(f"{self.spec}: another run committed to the index while "
                                     "this one ran; nothing was written, run again")
                writes = self._writes(delta)  # reads the counts it extends, under the WATCH
                pipe.multi()
                for command, key, args, kwargs in writes:
                    getattr(pipe, command)(key, *args, **kwargs)
                pipe.execute()
        finally:
            self.rollback()

    def _writes(self, delta: Delta) -> list[tuple[str, str, tuple[Any, ...], dict[str, Any]]]:
        """The commands of a commit (the counts it extends are read here)."""
        run = delta.meta.runs
        writes: list[tuple[str, str, tuple[Any, ...], dict[str, Any]]] = []

        def hset(key: str, mapping: dict[Any, Any]) -> None:
            items = list(mapping.items())
            for part in _chunks(items):
                writes.append(("hset", key, (), {"mapping": dict(part)}))

        added: dict[Table, dict[BandKey, list[int]]] = {"doc": {}, "unit": {}}
        for d in delta.documents:
            for pair in enumerate(d.keys.tolist()):
                added["doc"].setdefault(pair, []).append(d.seq)
        for c in delta.clusters:
            if c.keys is not None:
                for pair in enumerate(c.keys.tolist()):
                    added["unit"].setdefault(pair, []).append(c.id)
        for table, buckets in added.items():  # appended server-side: no read, one command
            triples = [(self._page(table, key), _field(band, key), ",".join(map(str, leaders)))
                       for (band, key), leaders in buckets.items()]
            for part in _chunks(triples):
                writes.append(("eval", _APPEND, (  # the text, not EVALSHA: never NOSCRIPT
                    len(part), *[page for page, _, _ in part],
                    *[v for _, field, value in part for v in (field, value)]), {}))
        hset(self._key("doc"), {d.seq: _pack_document(run, d.doc_id, d.content, d.shingles)
                                for d in delta.documents})
        records = {c.id: {"s": c.leader_seq, "d": c.doc_id, "p": c.position, "t": c.text, "r": run,
                          "k": c.key, "sh": c.short, "n": group_counts(c.counts)}
                   for c in delta.clusters}
        touched = self._records(list(delta.counts))
        for cid, counts in delta.counts.items():
            record = touched[cid]
            merged: dict[Group, int] = {g: n for g, n in record["n"]}
            for group, n in counts.items():
                merged[group] = merged.get(group, 0) + n
            record["n"] = group_counts(merged)
            records[cid] = record
        hset(self._key("cm"), {cid: json.dumps(r, ensure_ascii=False)
                               for cid, r in records.items()})
        hset(self._key("cs"), {c.id: c.shingles.astype("<u4").tobytes() for c in delta.clusters
                               if c.shingles is not None})
        hset(self._key("sk"), {_utf8(c.key): c.id for c in delta.clusters if c.short})
        for c in delta.clusters:
            if c.short:
                for block in sorted(set(block_keys(c.key))):
                    writes.append(("rpush", self._key("sb", block),
                                   (_utf8(f"{c.id}:{c.key}"),), {}))
        hset(self._key("meta"), delta.meta.as_strings())
        writes.append(("rpush", self._key("runs"), (json.dumps(delta.run),), {}))
        return writes

    # -- reads ----------------------------------------------------------------------------------

    def _meta(self, values: dict[bytes, bytes]) -> Meta | None:
        if not values:
            return None
        return Meta.from_strings({k.decode(): v.decode() for k, v in values.items()}, self.spec)

    @_guarded
    def read_meta(self) -> Meta | None:
        return self._meta(self._r.hgetall(self._key("meta")))

    @_guarded
    def members(self, table: Table, pairs: Sequence[BandKey]) -> dict[BandKey, list[int]]:
        """One script call per 5,000 buckets (each in its own page): a command per page
        would cost the client more than the server's lookups."""
        out: dict[BandKey, list[int]] = {}
        if not pairs:
            return out
        pipe = self._r.pipeline(transaction=False)
        parts = list(_chunks(pairs))
        for part in parts:
            self._lookup(keys=[self._page(table, key) for _, key in part],
                         args=[_field(band, key) for band, key in part], client=pipe)
        for part, values in zip(parts, pipe.execute(), strict=True):
            for pair, value in zip(part, values, strict=True):
                if value:
                    out[pair] = sorted(_ids(value))
        return out

    def _hmget(self, key: str, fields: Sequence[Any]) -> list[Any]:
        if not fields:
            return []
        pipe = self._r.pipeline(transaction=False)
        for part in _chunks(fields):
            pipe.hmget(key, list(part))
        return [v for values in pipe.execute() for v in values]

    @_guarded
    def document_rows(self, seqs: Sequence[int]) -> dict[int, DocumentRow]:
        out = {}
        for seq, value in zip(seqs, self._hmget(self._key("doc"), seqs), strict=True):
            if value is not None:
                _, doc_id, content, shingles = _parse_document(value)
                out[seq] = DocumentRow(doc_id, shingles, content)
        return out

    @_guarded
    def unit_sets(self, ids: Sequence[int]) -> dict[int, tuple[np.ndarray, str]]:
        records = self._records(ids)
        return {cid: (shingles_from(v), records[cid]["k"]) for cid, v in
                zip(ids, self._hmget(self._key("cs"), ids), strict=True)
                if v is not None and cid in records}

    @_guarded
    def short_exact(self, keys: Sequence[str]) -> dict[str, int]:
        values = self._hmget(self._key("sk"), [_utf8(k) for k in keys])
        return {k: int(v) for k, v in zip(keys, values, strict=True) if v is not None}

    @_guarded
    def short_blocks(self, blocks: Sequence[str]) -> dict[str, list[tuple[int, str]]]:
        pipe = self._r.pipeline(transaction=False)
        for block in blocks:
            pipe.lrange(self._key("sb", block), 0, -1)
        out: dict[str, list[tuple[int, str]]] = {}
        for block, entries in zip(blocks, pipe.execute(), strict=True):
            if entries:
                out[block] = sorted(_parse_block_entry(e) for e in entries)
        return out

    def _records(self, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        return {cid: json.loads(v) for cid, v in
                zip(ids, self._hmget(self._key("cm"), ids), strict=True) if v is not None}

    @_guarded
    def cluster_rows(self, ids: Sequence[int]) -> dict[int, ClusterRow]:
        return {cid: ClusterRow(cid, r["s"], r["d"], r["p"], r["t"], r["k"],
                                {g: n for g, n in r["n"]})
                for cid, r in self._records(ids).items()}

    # -- administration -------------------------------------------------------------------------

    @_guarded
    def run_records(self) -> list[dict[str, Any]]:
        return [json.loads(r) for r in self._r.lrange(self._key("runs"), 0, -1)]

    def _scan_keys(self, *parts: str) -> Iterator[bytes]:
        pattern = _glob_escape(self._key(*parts)) + ":*"
        yield from self._r.scan_iter(match=pattern, count=1000)

    def _buckets(self, code: str) -> dict[int, list[list[int]]]:
        """Every stored (band, key) per leader, from all pages of a band table."""
        out: dict[int, list[list[int]]] = {}
        for page in self._scan_keys(code):
            for field, value in self._r.hscan_iter(page, count=1000):
                band, key = _pair(field)
                for leader in _ids(value):
                    out.setdefault(leader, []).append([band, key])
        return out

    def _blocks_by_cluster(self) -> dict[int, list[str]]:
        out: dict[int, list[str]] = {}
        start = len(self._key("sb")) + 1
        for name in self._scan_keys("sb"):
            block = name[start:].decode("utf-8", "surrogatepass")
            for entry in self._r.lrange(name, 0, -1):
                out.setdefault(_parse_block_entry(entry)[0], []).append(block)
        return out

    @_guarded
    def dump_entries(self) -> Iterator[list[Any]]:
        doc_bands = self._buckets("db")
        documents = {int(k): _parse_document(v) for k, v in self._r.hscan_iter(self._key("doc"))}
        for seq in sorted(documents):
            run, doc_id, content, shingles = documents[seq]
            yield ["document", seq, doc_id, run, shingles.astype("<u4").tobytes().hex(),
                   sorted(doc_bands.pop(seq, [])), [list(c) for c in content]]
        for seq, bands in sorted(doc_bands.items()):
            yield ["orphan", "document band", seq, bands]
        unit_bands = self._buckets("ub")
        blocks = self._blocks_by_cluster()
        sets = {int(k): v for k, v in self._r.hscan_iter(self._key("cs"))}
        records = {int(k): json.loads(v) for k, v in self._r.hscan_iter(self._key("cm"))}
        exact = {int(v): k.decode("utf-8", "surrogatepass")
                 for k, v in self._r.hscan_iter(self._key("sk"))}
        for cid in sorted(records):
            r = records[cid]
            blob = sets.pop(cid, None)
            if r["sh"] and exact.pop(cid, None) != r["k"]:
                yield ["orphan", "short key entry", cid, r["k"]]
            yield ["cluster", cid, r["s"], r["d"], r["p"], r["t"], r["k"], r["sh"], r["r"],
                   None if blob is None else blob.hex(), sorted(unit_bands.pop(cid, [])),
                   sorted(blocks.pop(cid, [])), r["n"]]
        for what, rest in (("unit band", unit_bands), ("short block", blocks),
                           ("shingle set", {c: len(b) for c, b in sets.items()}),
                           ("short key", exact)):
            for leader, detail in sorted(rest.items()):
                yield ["orphan", what, leader, detail]

    @_guarded
    def size_bytes(self) -> int:
        total = 0
        keys = [k for k in self._r.scan_iter(match=_glob_escape("{" + self.prefix + "}") + ":*",
                                             count=1000)]
        for part in _chunks(keys, 1000):
            pipe = self._r.pipeline(transaction=False)
            for key in part:
                pipe.memory_usage(key, samples=0)
            total += sum(v or 0 for v in pipe.execute())
        return total

    @_guarded
    def table_counts(self) -> dict[str, int]:
        if not self._r.exists(self._key("meta")):
            return {}
        counts = {"documents": self._r.hlen(self._key("doc")),
                  "long_clusters": self._r.hlen(self._key("cs")),
                  "short_clusters": self._r.hlen(self._key("sk")),
                  "runs": self._r.llen(self._key("runs"))}
        for code, name in (("db", "document_bands"), ("ub", "unit_bands")):
            pages = list(self._scan_keys(code))
            pipe = self._r.pipeline(transaction=False)
            for page in pages:
                pipe.hlen(page)
            counts[name] = sum(pipe.execute()) if pages else 0
        counts["short_blocks"] = sum(1 for _ in self._scan_keys("sb"))
        return counts

    @_guarded
    def top_units(self, per_group: int, max_chars: int, min_docs: int
                  ) -> dict[Group, list[dict[str, Any]]]:
        ranked: dict[Group, list[tuple[int, int, dict[str, Any]]]] = {}
        for key, value in self._r.hscan_iter(self._key("cm"), count=1000):
            r = json.loads(value)
            if len(r["t"]) > max_chars:
                continue
            for group, n in r["n"]:
                if n >= min_docs:
                    ranked.setdefault(group, []).append((-n, int(key), r))
        out: dict[Group, list[dict[str, Any]]] = {}
        for group in sorted(ranked, key=lambda g: (g is not None, g or "")):
            best = sorted(ranked[group], key=lambda t: t[:2])[:per_group]
            out[group] = [{"text": r["t"], "documents": -neg,
                           "first": {"doc_id": r["d"], "position": r["p"]}} for neg, _, r in best]
        return out

    def storage_problems(self) -> list[str]:
        return []

    @_guarded
    def compact(self) -> dict[str, int]:
        """Drop entries that refer to missing leaders and fix the header's counters. (Redis
        frees memory as keys shrink; there is nothing like VACUUM to run.)"""
        before = self.size_bytes()
        meta = self.start(write=True)
        try:
            if meta is None:
                raise StoreError(f"{self.spec}: no index there")
            removed = {"document bands": 0, "unit bands": 0, "short blocks": 0,
                       "shingle sets": 0, "short keys": 0}
            with self._r.pipeline(transaction=True) as pipe:
                pipe.watch(self._key("meta"))
                documents = {int(k) for k in pipe.hkeys(self._key("doc"))}
                clusters = {int(k) for k in pipe.hkeys(self._key("cm"))}
                writes: list[tuple[str, str, tuple[Any, ...]]] = []
                for code, alive, what in (("db", documents, "document bands"),
                                          ("ub", clusters, "unit bands")):
                    for page in self._scan_keys(code):
                        for field, value in self._r.hscan_iter(page):
                            ids = _ids(value)
                            kept = [i for i in ids if i in alive]
                            if len(kept) != len(ids):
                                removed[what] += len(ids) - len(kept)
                                value = ",".join(map(str, kept))
                                writes.append(("hset", page.decode(), (field, value)) if kept
                                              else ("hdel", page.decode(), (field,)))
                for name in self._scan_keys("sb"):
                    for entry in self._r.lrange(name, 0, -1):
                        if _parse_block_entry(entry)[0] not in clusters:
                            removed["short blocks"] += 1
                            writes.append(("lrem", name.decode("utf-8", "surrogatepass"),
                                           (0, entry)))
                for cid in pipe.hkeys(self._key("cs")):
                    if int(cid) not in clusters:
                        removed["shingle sets"] += 1
                        writes.append(("hdel", self._key("cs"), (cid,)))
                for key, cid in self._r.hscan_iter(self._key("sk")):
                    if int(cid) not in clusters:
                        removed["short keys"] += 1
                        writes.append(("hdel", self._key("sk"), (key,)))
                meta.documents, meta.clusters = len(documents), len(clusters)
                meta.next_seq = max(meta.next_seq, max(documents, default=-1) + 1)
                meta.next_cluster = max(meta.next_cluster, max(clusters, default=-1) + 1)
                pipe.multi()
                for command, key, args in writes:
                    getattr(pipe, command)(key, *args)
                pipe.hset(self._key("meta"), mapping=meta.as_strings())
                pipe.execute()
        finally:
            self.rollback()
        removed["bytes before"] = before
        removed["bytes after"] = self.size_bytes()
        return removed

    def clear(self) -> int:
        """Delete every key of this index (tests and benchmarks); returns how many."""
        keys = list(self._r.scan_iter(match=_glob_escape("{" + self.prefix + "}") + ":*",
                                      count=1000))
        for part in _chunks(keys, 1000):
            self._r.delete(*part)
        return len(keys)


def _pack_document(run: int, doc_id: str, content: list[tuple[int, int]],
                   shingles: np.ndarray) -> bytes:
    name, listed = _utf8(doc_id), json.dumps(content).encode()
    return (_DOC_HEADER.pack(run, len(name), len(listed)) + name + listed
            + shingles.astype("<u4").tobytes())


def _parse_document(value: bytes) -> tuple[int, str, list[tuple[int, int]], np.ndarray]:
    run, length, listed = _DOC_HEADER.unpack_from(value)
    start = _DOC_HEADER.size
    doc_id = value[start : start + length].decode("utf-8", "surrogatepass")
    content = [(c, n) for c, n in json.loads(value[start + length : start + length + listed])]
    return run, doc_id, content, shingles_from(value[start + length + listed :])


def _parse_block_entry(entry: bytes) -> tuple[int, str]:
    cid, _, key = entry.partition(b":")
    return int(cid), key.decode("utf-8", "surrogatepass")
