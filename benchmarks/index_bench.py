"""Persistent index throughput and size: building an index of a million units, then querying it.

Run from the repository root (``make bench-index``)::

    python -m benchmarks.index_bench [--units 1000000] [--redis-units 200000] [--no-redis]

What is measured, per backend, with the real code path of ``dedupe clean --index``
(``IndexRun`` + ``policy.Decider``, documents in runs of ``--batch-units`` units):

* **indexing**: units decided against the index and committed per second (the fingerprinting
  before it, which does not depend on the index, is timed apart), over the whole build and for
  the last run, when the index already holds nearly all its units;
* **query**: a read-only run of ``--query-units`` further units of the same kind against the
  full index: units per second, milliseconds per document;
* **size**: SQLite: the file (after a checkpoint) per stored unit cluster, with the share of
  each table; Redis: the server memory its keys take (``MEMORY USAGE``) per unit, since Redis
  holds the index in memory (an RDB snapshot is smaller).

The documents are, by default (``--corpus news``), the speed benchmark's news-like articles
(``benchmarks/corpus.py``: realistic prose, headlines and captions repeated, boilerplate per
site, syndicated near-duplicates), grouped by site, at the shipped settings. ``--corpus lines``
generates lines of 6-18 words over an 8,000-word vocabulary (Zipf-weighted), 20 to a document:
a stress case for a low candidate threshold, since every line shares shingles with many others.
Redis uses a smaller index by default (``--redis-units``): its build sends every unit over a
socket, which is the slower part here; the size is stated in the table. The Redis server is
``DEDUPE_BENCH_REDIS`` or ``DEDUPE_TEST_REDIS`` if set, else a throwaway ``redis-server`` if the
binary exists, else Redis is skipped. Results: a table on stdout and
``benchmarks/out/index_bench.json`` (generated, never committed).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.corpus import Generator
from dedupe import Config, Document
from dedupe.pipeline import prepare_all
from dedupe.policy import Decider
from dedupe.store import IndexStore, index_settings, open_index

OUT_DIR = Path(__file__).resolve().parent / "out"
UNITS_PER_DOC = 20


class Units:
    """A deterministic stream of documents whose lines are the units to index."""

    def __init__(self, seed: int = 20240601) -> None:
        self.rng = np.random.default_rng(seed)
        letters = np.array(list("etaoinshrdlcumwfgypbvkjxqz"))
        freq = np.array([12.7, 9.1, 8.2, 7.5, 7.0, 6.7, 6.3, 6.1, 6.0, 4.3, 4.0, 2.8, 2.8, 2.4,
                         2.4, 2.2, 2.0, 2.0, 1.9, 1.5, 1.0, 0.8, 0.15, 0.15, 0.1, 0.07])
        p = freq / freq.sum()
        self.words = ["".join(self.rng.choice(letters, self.rng.integers(3, 11), p=p))
                      for _ in range(8000)]
        weights = 1.0 / np.arange(1, len(self.words) + 1)
        self.weights = weights / weights.sum()
        self.shorts = [" ".join(self.rng.choice(self.words[:300], self.rng.integers(1, 3)))
                       .capitalize() for _ in range(2000)]
        self.recent: list[str] = []
        self.count = 0

    def line(self) -> str:
        roll = self.rng.random()
        if roll < 0.1:
            return str(self.shorts[int(self.rng.integers(len(self.shorts)))])
        if roll < 0.2 and self.recent:
            return self.recent[int(self.rng.integers(len(self.recent)))]
        words = self.rng.choice(self.words, int(self.rng.integers(6, 19)), p=self.weights)
        text = " ".join(words).capitalize() + "."
        if len(self.recent) < 50_000:
            self.recent.append(text)
        else:
            self.recent[int(self.rng.integers(len(self.recent)))] = text
        return text

    def documents(self, units: int, tag: str) -> list[Document]:
        out: list[Document] = []
        for _ in range(max(1, units // UNITS_PER_DOC)):
            self.count += 1
            text = "\n".join(self.line() for _ in range(UNITS_PER_DOC))
            out.append(Document(id=f"{tag}{self.count}", text=text, source=tag,
                                ordinal=len(out)))
        return out


class News:
    """The speed benchmark's news-like documents (benchmarks/corpus.py), grouped by site:
    realistic prose, repeated headlines and captions, boilerplate per site, syndicated
    near-duplicates. Same interface as ``Units``."""

    def __init__(self, seed: int = 1) -> None:
        self.generator = Generator(seed)

    def documents(self, units: int, tag: str) -> list[Document]:
        out: list[Document] = []
        count = 0
        while count < units:
            record = self.generator.document()
            count += record["text"].count("\n") + 1
            out.append(Document(id=f"{tag}{record['id']}", text=record["text"], source=tag,
                                group=record["host"], ordinal=len(out)))
        return out


def run_batch(index: IndexStore, config: Config, docs: list[Document], *, read_only: bool
              ) -> dict[str, float]:
    """One run against the index, timed in its three parts."""
    started = time.perf_counter()
    prepared = list(prepare_all(docs, config))
    prepared_at = time.perf_counter()
    units = sum(len(p.spans) for p in prepared)
    with index.begin(config, read_only=read_only) as run:
        decider = Decider(config, run)
        run.stage(decider)
        for p in run.read_ahead(prepared):
            decider.finalize(p, decider.observe(p))
        decided_at = time.perf_counter()
        if not read_only:
            run.commit(["<bench>"])
    done = time.perf_counter()
    return {"documents": len(docs), "units": units, "prepare_s": prepared_at - started,
            "decide_s": decided_at - prepared_at, "commit_s": done - decided_at}


def bench_backend(name: str, spec: str, target: int, args: argparse.Namespace,
                  config: Config) -> dict[str, Any]:
    units: Units | News = News(args.seed) if args.corpus == "news" else Units(args.seed)
    runs: list[dict[str, float]] = []
    with open_index(spec, create=True) as index:
        stored = 0
        while stored < target:
            runs.append(run_batch(index, config, units.documents(args.batch_units, "b"),
                                  read_only=False))
            meta = index.read_meta()
            stored = meta.clusters if meta else 0
            last = runs[-1]
            print(f"  {name}: {stored:>9,} units stored; run of {last['units']:,} units: "
                  f"decide {last['decide_s']:.1f} s, commit {last['commit_s']:.1f} s", flush=True)
        query = run_batch(index, config, units.documents(args.query_units, "q"), read_only=True)
        size = _size(index)
        meta = index.read_meta()
    indexed = sum(r["units"] for r in runs)
    busy = sum(r["decide_s"] + r["commit_s"] for r in runs)
    last = runs[-1]
    return {
        "backend": name,
        "units_stored": meta.clusters if meta else 0,
        "document_leaders": meta.documents if meta else 0,
        "units_indexed": indexed,
        "runs": runs,
        "fingerprint_units_per_s": indexed / sum(r["prepare_s"] for r in runs),
        "index_units_per_s": indexed / busy,
        "last_run_index_units_per_s": last["units"] / (last["decide_s"] + last["commit_s"]),
        "commit_s_last_run": last["commit_s"],
        "query": query,
        "query_units_per_s": query["units"] / query["decide_s"],
        "query_ms_per_document": 1000 * query["decide_s"] / query["documents"],
        **size,
        "bytes_per_unit": size["size_bytes"] / max(1, meta.clusters if meta else 0),
    }


def _size(index: IndexStore) -> dict[str, Any]:
    """Bytes the index takes; for SQLite also by table (the dbstat virtual table)."""
    if index.kind != "sqlite":
        return {"size_bytes": index.size_bytes(), "size_kind": "Redis memory (MEMORY USAGE)"}
    db = index._db  # type: ignore[attr-defined]
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    tables: dict[str, int] = {}
    try:
        for name, size in db.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name"):
            tables[name] = int(size)
    except Exception:  # dbstat is optional in SQLite builds
        tables = {}
    return {"size_bytes": index.size_bytes(), "size_kind": "SQLite file", "tables": tables}


def _redis_url() -> Iterator[str | None]:
    """A Redis URL for the bench (from the environment, or a throwaway server), or None."""
    url = os.environ.get("DEDUPE_BENCH_REDIS") or os.environ.get("DEDUPE_TEST_REDIS")
    if url:
        yield url
        return
    binary = shutil.which("redis-server")
    if binary is None:
        yield None
        return
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                               "--appendonly", "no"], stdout=subprocess.DEVNULL)
    try:
        import redis

        client = redis.Redis(port=port)
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.exceptions.ConnectionError:
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.terminate()
        server.wait(10)


def table(results: list[dict[str, Any]]) -> str:
    rows = [("backend", "units stored", "index units/s", "last run units/s", "query units/s",
             "query ms/doc", "size", "bytes/unit")]
    for r in results:
        rows.append((r["backend"], f"{r['units_stored']:,}", f"{r['index_units_per_s']:,.0f}",
                     f"{r['last_run_index_units_per_s']:,.0f}", f"{r['query_units_per_s']:,.0f}",
                     f"{r['query_ms_per_document']:.2f}", f"{r['size_bytes'] / 2**20:,.1f} MiB",
                     f"{r['bytes_per_unit']:,.0f}"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True))
             for row in rows]
    for r in results:
        if r.get("tables"):
            share = ", ".join(f"{name} {size / r['size_bytes']:.0%}" for name, size in
                              sorted(r["tables"].items(), key=lambda t: -t[1]) if size)
            lines.append(f"{r['backend']} space by table: {share}")
        lines.append(f"{r['backend']}: fingerprinting (not the index) "
                     f"{r['fingerprint_units_per_s']:,.0f} units/s; size = {r['size_kind']}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--units", type=int, default=1_000_000, help="SQLite index size (units)")
    parser.add_argument("--redis-units", type=int, default=200_000, help="Redis index size")
    parser.add_argument("--batch-units", type=int, default=100_000, help="units per run")
    parser.add_argument("--query-units", type=int, default=20_000, help="units of the query run")
    parser.add_argument("--workers", type=int, default=0, help="fingerprinting processes")
    parser.add_argument("--corpus", choices=("news", "lines"), default="news",
                        help="news: the speed benchmark's articles; lines: generated lines "
                             "over a small vocabulary (a stress case for a low candidate "
                             "threshold: every line shares shingles with many others)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-redis", action="store_true")
    parser.add_argument("--dir", default=None, help="where the SQLite file goes [a temp dir]")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="a Config field for the run, e.g. candidate_threshold=0.7")
    args = parser.parse_args()
    overrides = {k: json.loads(v) for k, v in (item.split("=", 1) for item in args.set)}
    config = Config(workers=args.workers).replace(**overrides)
    print(f"config: {overrides or 'defaults'}; unit LSH bands x rows "
          f"{index_settings(config)['unit_bands']}", flush=True)
    results = []
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        print(f"SQLite, {args.units:,} units:", flush=True)
        results.append(bench_backend("sqlite", os.path.join(tmp, "index.db"), args.units, args,
                                     config))
    if not args.no_redis:
        for url in _redis_url():
            if url is None:
                print("Redis: skipped (no DEDUPE_BENCH_REDIS and no redis-server binary)")
                continue
            from dedupe.store.redis_index import RedisIndex

            joiner = "&" if "?" in url else "?"
            spec = f"{url}{joiner}prefix=dedupe-bench-{uuid.uuid4().hex[:8]}"
            print(f"Redis, {args.redis_units:,} units:", flush=True)
            try:
                results.append(bench_backend("redis", spec, args.redis_units, args, config))
            finally:
                RedisIndex(spec).clear()
    print()
    print(table(results))
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    out = OUT_DIR / "index_bench.json"
    out.write_text(json.dumps({"args": vars(args), "results": results}, indent=2) + "\n")
    print(f"\nwritten {out}")


if __name__ == "__main__":
    main()
